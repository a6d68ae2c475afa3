// Package viewer is the engine-free logic of the dream viewer: the state
// machine that plays one or more trained agents step by step (running,
// paused, one step at a time), the meaning of each key, and the picture
// of the window, composed in pure Go. The ebiten adapter in cmd/viz only
// forwards keys and frames to a Viewer and shows its picture, so all of
// this is tested without a display.
package viewer

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/agent/picture"
	"github.com/dreamrl/dream/internal/atomicfile"
)

// Key is a command of the viewer, bound to a key of the keyboard.
type Key int

// The viewer's commands.
const (
	// KeyNone does nothing.
	KeyNone Key = iota
	// KeyPause pauses or resumes (space).
	KeyPause
	// KeyStep pauses and plays one step (→).
	KeyStep
	// KeyReset starts the current episodes again from their seeds (r).
	KeyReset
	// KeyMoreSamples and KeyFewerSamples change the number of futures
	// drawn per picture by one (+ and −).
	KeyMoreSamples
	KeyFewerSamples
	// KeyShorterHorizon and KeyLongerHorizon change the horizon by one
	// ([ and ]).
	KeyShorterHorizon
	KeyLongerHorizon
	// KeySave saves the window's picture as a PNG (s).
	KeySave
	// KeyQuit closes the viewer (q).
	KeyQuit
)

// Help is the line of key bindings drawn at the bottom of the window.
const Help = "space pause/resume · → one step · r reset · +/- samples · [/] horizon · s save PNG · q quit"

// TicksPerSecond is the rate at which the engine calls Tick (ebiten's
// default).
const TicksPerSecond = 60

// Pane is one trained agent shown in the window.
type Pane struct {
	// Name labels the pane (the run directory).
	Name string
	// Imaginer plays the agent.
	Imaginer *agent.Imaginer
}

// Options configure a Viewer. The zero value of each field means the
// default written next to it.
type Options struct {
	// Cell is the side of each frame tile in pixels. Default 64.
	Cell int
	// Speed is the number of steps played per second while running.
	// Default 2.
	Speed float64
	// SaveDir is where KeySave writes viz-NNN.png. Default ".".
	SaveDir string
	// Paused starts the viewer paused.
	Paused bool
}

// Viewer is the state of the viewer window. It is driven by Tick (once per
// frame) and Press (once per key), and shows Picture. It is not safe for
// concurrent use.
type Viewer struct {
	panes  []Pane
	opts   Options
	paused bool
	quit   bool
	every  int // ticks per step while running
	ticks  int // ticks since the last step
	scenes []picture.Scene
	msg    string
	pic    *image.RGBA // the composed picture; nil when it must be drawn again
}

// New returns a Viewer of the panes, showing the first step of each.
// It panics if there is no pane.
func New(panes []Pane, opts Options) *Viewer {
	if len(panes) == 0 {
		panic("viewer: no pane")
	}
	if opts.Cell == 0 {
		opts.Cell = 64
	}
	if opts.Speed == 0 {
		opts.Speed = 2
	}
	if opts.SaveDir == "" {
		opts.SaveDir = "."
	}
	v := &Viewer{panes: panes, opts: opts, paused: opts.Paused}
	v.every = max(1, int(TicksPerSecond/opts.Speed+0.5))
	v.scenes = make([]picture.Scene, len(panes))
	v.step()
	return v
}

// step plays one step of every pane.
func (v *Viewer) step() {
	for i, p := range v.panes {
		v.scenes[i] = p.Imaginer.Step()
	}
	v.ticks = 0
	v.pic = nil
}

// redraw draws every pane's current step again (after K changed).
func (v *Viewer) redraw() {
	for i, p := range v.panes {
		v.scenes[i] = p.Imaginer.Scene()
	}
	v.pic = nil
}

// Paused reports whether the viewer is paused.
func (v *Viewer) Paused() bool { return v.paused }

// Quit reports whether the viewer was asked to close.
func (v *Viewer) Quit() bool { return v.quit }

// Tick advances the viewer by one frame: while running, it plays a step
// every TicksPerSecond/Speed frames.
func (v *Viewer) Tick() {
	if v.paused || v.quit {
		return
	}
	v.ticks++
	if v.ticks >= v.every {
		v.step()
	}
}

// Press carries out the command of a key.
func (v *Viewer) Press(k Key) {
	first := v.panes[0].Imaginer
	switch k {
	case KeyPause:
		v.paused = !v.paused
		v.ticks = 0
		v.setMsg("")
	case KeyStep:
		v.paused = true
		v.step()
		v.setMsg("")
	case KeyReset:
		for _, p := range v.panes {
			p.Imaginer.Reset()
		}
		v.step()
		v.setMsg("episode restarted from its seed")
	case KeyMoreSamples, KeyFewerSamples:
		// Panes of deterministic models keep K = 1, so step from the
		// largest K shown.
		cur := 0
		for _, p := range v.panes {
			cur = max(cur, p.Imaginer.Samples())
		}
		n := cur + 1
		if k == KeyFewerSamples {
			n = cur - 1
		}
		for _, p := range v.panes {
			p.Imaginer.SetSamples(n)
		}
		v.redraw()
		v.setMsg(fmt.Sprintf("samples K = %d", min(max(n, 1), agent.MaxImagineSamples)))
	case KeyShorterHorizon, KeyLongerHorizon:
		h := first.Horizon() + 1
		if k == KeyShorterHorizon {
			h = first.Horizon() - 1
		}
		for _, p := range v.panes {
			if _, err := p.Imaginer.SetHorizon(h); err != nil {
				v.setMsg(err.Error())
				return
			}
		}
		v.setMsg(fmt.Sprintf("horizon H = %d (shown from the next steps planned)", first.Horizon()))
	case KeySave:
		path, err := v.Save()
		if err != nil {
			v.setMsg("save failed: " + err.Error())
		} else {
			v.setMsg("saved " + path)
		}
	case KeyQuit:
		v.quit = true
	}
}

func (v *Viewer) setMsg(m string) {
	if m != v.msg {
		v.msg = m
		v.pic = nil
	}
}

// Status is the status line: running or paused, the speed, and the last
// message.
func (v *Viewer) Status() string {
	s := fmt.Sprintf("running · %g steps/s", v.opts.Speed)
	if v.paused {
		s = "paused"
	}
	if v.msg != "" {
		s += " · " + v.msg
	}
	return s
}

// Picture returns the window's picture: the panes side by side, each
// captioned with its name and settings, then the status and help lines.
// The image is owned by the Viewer and is the same until the state
// changes, so a caller can tell a new picture by its pointer.
func (v *Viewer) Picture() *image.RGBA {
	if v.pic != nil {
		return v.pic
	}
	views := make([]PaneView, len(v.panes))
	for i, p := range v.panes {
		im := p.Imaginer
		views[i] = PaneView{
			Scene:   v.scenes[i],
			Caption: fmt.Sprintf("%s · K=%d · H=%d · episode %d", p.Name, im.Samples(), im.Horizon(), im.Episode()),
		}
	}
	v.pic = Compose(views, v.opts.Cell, v.Status())
	return v.pic
}

// PaneView is what one pane shows: a scene and a caption under it.
type PaneView struct {
	Scene   picture.Scene
	Caption string
}

// Compose draws the window's picture: each pane's scene composed with
// tiles of cell pixels, the panes side by side with their captions on one
// line under the tallest, and under them the status line and the Help
// line.
func Compose(panes []PaneView, cell int, status string) *image.RGBA {
	pics := make([]*image.RGBA, len(panes))
	h := 0
	for i, p := range panes {
		pics[i] = picture.Compose(p.Scene, cell)
		h = max(h, pics[i].Rect.Dy())
	}
	for i, p := range panes {
		pics[i] = picture.Caption(picture.Pad(pics[i], 0, h), p.Caption)
	}
	return picture.Caption(picture.Beside(cell/2, pics...), status, Help)
}

// Save writes the window's picture to the first free viz-NNN.png in the
// save directory and returns its path.
func (v *Viewer) Save() (string, error) {
	for n := 1; n < 1000; n++ {
		path := filepath.Join(v.opts.SaveDir, fmt.Sprintf("viz-%03d.png", n))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		return path, WritePNG(path, v.Picture())
	}
	return "", fmt.Errorf("viz-001.png … viz-999.png all exist in %s", v.opts.SaveDir)
}

// WritePNG writes img to path atomically.
func WritePNG(path string, img image.Image) error {
	return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// Open opens the trained runs of a viewer, the first from --run-dir and
// the others from --compare, with errors that name the flag.
func Open(runDir string, compare ...string) ([]*agent.Run, error) {
	if runDir == "" {
		return nil, fmt.Errorf("--run-dir is required: the run directory of a trained agent")
	}
	var runs []*agent.Run
	for i, dir := range append([]string{runDir}, compare...) {
		flag := "--run-dir"
		if i > 0 {
			flag = "--compare"
		}
		r, err := agent.OpenTrained(dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", flag, strings.Join(strings.Fields(err.Error()), " "))
		}
		runs = append(runs, r)
	}
	if len(runs) > 1 {
		a, b := runs[0].Config(), runs[1].Config()
		if a.Env != b.Env || a.Map != b.Map || a.Obs != b.Obs || a.Size != b.Size {
			return nil, fmt.Errorf("--compare %s: runs on %s (%s, %d) and %s (%s, %d) cannot be compared on the same episodes (allowed: the same environment and observations)",
				compare[0], a.Env, a.Obs, a.Size, b.Env, b.Obs, b.Size)
		}
	}
	return runs, nil
}
