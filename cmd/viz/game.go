package main

import (
	"errors"
	"fmt"
	"image"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"

	"github.com/dreamrl/dream/cmd/viz/internal/viewer"
	"github.com/dreamrl/dream/envs"
)

// game adapts a viewer.Viewer to ebiten: Update forwards keys and ticks,
// Draw blits the viewer's picture (ebiten examples/life style).
type game struct {
	v      *viewer.Viewer
	canvas *ebiten.Image
	shown  *image.RGBA // the picture on the canvas
	keys   []ebiten.Key

	// Screenshot mode: after frames ticks, Draw reads the screen back
	// and writes it to shot.
	shot   string
	frames int
	ticks  int
	done   bool
	err    error
}

// keyOf maps the keyboard to the viewer's commands.
func keyOf(k ebiten.Key) viewer.Key {
	switch k {
	case ebiten.KeySpace:
		return viewer.KeyPause
	case ebiten.KeyArrowRight:
		return viewer.KeyStep
	case ebiten.KeyR:
		return viewer.KeyReset
	case ebiten.KeyEqual, ebiten.KeyNumpadAdd:
		return viewer.KeyMoreSamples
	case ebiten.KeyMinus, ebiten.KeyNumpadSubtract:
		return viewer.KeyFewerSamples
	case ebiten.KeyBracketLeft:
		return viewer.KeyShorterHorizon
	case ebiten.KeyBracketRight:
		return viewer.KeyLongerHorizon
	case ebiten.KeyS:
		return viewer.KeySave
	case ebiten.KeyQ, ebiten.KeyEscape:
		return viewer.KeyQuit
	}
	return viewer.KeyNone
}

// play opens the window and runs the viewer until it quits (or, with a
// screenshot file, until the screenshot is written).
func play(v *viewer.Viewer, shot string, frames int) error {
	g := &game{v: v, shot: shot, frames: frames}
	pic := v.Picture()
	ebiten.SetWindowTitle("dream viz")
	ebiten.SetWindowSize(pic.Rect.Dx(), pic.Rect.Dy())
	ebiten.SetScreenClearedEveryFrame(false) // Draw covers the whole screen
	g.show(pic)
	if err := ebiten.RunGame(g); err != nil && !errors.Is(err, ebiten.Termination) {
		return err
	}
	return g.err
}

// show puts a picture on the canvas, resizing canvas and window when its
// size changed.
func (g *game) show(pic *image.RGBA) {
	if g.canvas == nil || g.shown == nil || g.shown.Rect.Size() != pic.Rect.Size() {
		if g.canvas != nil {
			g.canvas.Deallocate()
		}
		g.canvas = ebiten.NewImage(pic.Rect.Dx(), pic.Rect.Dy())
		if g.shown != nil {
			ebiten.SetWindowSize(pic.Rect.Dx(), pic.Rect.Dy())
		}
	}
	g.canvas.WritePixels(pic.Pix)
	g.shown = pic
}

func (g *game) Update() (err error) {
	// A Gymnasium environment whose child died ends the viewer with its
	// one-line error.
	defer envs.RecoverFailure(&err)
	if g.err != nil {
		return g.err
	}
	if g.done || g.v.Quit() {
		return ebiten.Termination
	}
	if g.shot != "" {
		if g.ticks >= g.frames {
			return nil // hold still until Draw has taken the screenshot
		}
	} else {
		g.keys = inpututil.AppendJustPressedKeys(g.keys[:0])
		for _, k := range g.keys {
			g.v.Press(keyOf(k))
		}
	}
	g.v.Tick()
	g.ticks++
	if pic := g.v.Picture(); pic != g.shown {
		g.show(pic)
	}
	return nil
}

func (g *game) Draw(screen *ebiten.Image) {
	screen.DrawImage(g.canvas, nil)
	if g.shot == "" || g.done || g.ticks < g.frames {
		return
	}
	b := screen.Bounds()
	if b.Size() != g.shown.Rect.Size() {
		// The picture changed size on the last tick; the screen takes the
		// new size from Layout before the next Draw.
		return
	}
	img := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	screen.ReadPixels(img.Pix)
	if err := viewer.WritePNG(g.shot, img); err != nil {
		g.err = fmt.Errorf("--screenshot %s: %w", g.shot, err)
	}
	g.done = true
}

func (g *game) Layout(_, _ int) (int, int) {
	return g.shown.Rect.Dx(), g.shown.Rect.Dy()
}
