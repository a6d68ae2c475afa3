package gym

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// helloTimeout is how long a child may take to start Python and numpy
// and say hello; one that takes longer is not a working interpreter.
const helloTimeout = 60 * time.Second

// process is a running bridge: its pipes, the tail of its stderr and its
// exit status once it exited. Only what is reachable from process is
// needed to kill the child, so Env's cleanup holds it without holding the
// Env.
type process struct {
	cmd    *exec.Cmd
	stdin  *os.File // our end of the child's standard input
	stdout *os.File // our end of the child's standard output
	script string
	tail   *tail

	hello    *time.Timer
	timedOut atomic.Bool

	once   sync.Once // removes the script
	done   chan struct{}
	status string // how the child exited; set before done is closed
}

// startBridge writes the bridge to a temporary file and starts it with
// the interpreter python. The child's pipes are made here, not by
// exec.Cmd, so that waiting for the child never closes a pipe that still
// holds its last reply.
func startBridge(python string) (*process, error) {
	path, err := lookPython(python)
	if err != nil {
		return nil, err
	}
	script, err := writeScript()
	if err != nil {
		return nil, err
	}
	p := &process{script: script, tail: &tail{}, done: make(chan struct{})}
	inR, inW, err := os.Pipe()
	if err != nil {
		os.Remove(script)
		return nil, fmt.Errorf("%w: pipe: %v", ErrBridge, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		os.Remove(script)
		return nil, fmt.Errorf("%w: pipe: %v", ErrBridge, err)
	}
	// -B: the child writes no __pycache__ next to the modules it imports.
	cmd := exec.Command(path, "-B", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, p.tail
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		os.Remove(script)
		return nil, fmt.Errorf("%w: %s: %v", ErrNoPython, python, err)
	}
	p.cmd, p.stdin, p.stdout = cmd, inW, outR
	// Fd puts our ends in blocking mode: a read then waits in the kernel
	// for the reply instead of parking on the network poller, which takes
	// tens of microseconds off every round trip.
	inW.Fd()
	outR.Fd()
	p.hello = time.AfterFunc(helloTimeout, func() {
		p.timedOut.Store(true)
		p.kill()
	})
	go func() {
		err := cmd.Wait()
		p.status = exitStatus(err)
		close(p.done)
	}()
	return p, nil
}

// exitStatus describes how a child exited.
func exitStatus(err error) string {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &exit):
		return exit.ProcessState.String()
	}
	return err.Error()
}

// started is called once the hello came (or did not): the timer stops
// and the script, which Python has read by then, is removed.
func (p *process) started() {
	p.hello.Stop()
	p.once.Do(func() { os.Remove(p.script) })
}

// kill kills the child; it does nothing once the child has exited.
func (p *process) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
	}
}

// wait waits up to grace for the child to exit, kills it if it has not,
// and returns how it exited. It closes our ends of the pipes.
func (p *process) wait(grace time.Duration) string {
	t := time.NewTimer(grace)
	select {
	case <-p.done:
	case <-t.C:
		p.kill()
		<-p.done
	}
	t.Stop()
	p.stdin.Close()
	p.stdout.Close()
	p.started()
	return p.status
}

// stop closes the child's input, upon which the bridge exits, and waits
// for it as wait does.
func (p *process) stop(grace time.Duration) string {
	p.stdin.Close()
	return p.wait(grace)
}

// lastWords is the last line the child wrote to stderr (for a Python
// traceback, the exception), shortened to one line.
func (p *process) lastWords() string {
	return oneLine(p.tail.lastLine())
}

// tail keeps the end of a stream (a child's stderr): the last tailSize
// bytes.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4096

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(b), nil
}

// lastLine is the last non-empty line written.
func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.buf), []byte("\n"))
	return strings.TrimSpace(string(lines[len(lines)-1]))
}
