package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
)

// barWidth is the number of cells of a progress bar.
const barWidth = 24

// progressBar draws the share frac (0 to 1) of a task done as a bar of
// barWidth cells, such as "[######..................]".
func progressBar(frac float64) string {
	done := int(math.Floor(barWidth * math.Min(1, math.Max(0, frac))))
	return "[" + strings.Repeat("#", done) + strings.Repeat(".", barWidth-done) + "]"
}

// liveLine writes to a terminal that keeps one status line at its
// bottom: lines written to it appear above the status line, which set
// redraws in place (\r, then \x1b[K to clear what the old line left). It
// is safe for concurrent use.
type liveLine struct {
	mu   sync.Mutex
	out  io.Writer
	line string
}

// Write clears the status line, writes p and, after a complete line,
// draws the status line again below it.
func (l *liveLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.line != "" {
		io.WriteString(l.out, "\r\x1b[K")
	}
	n, err := l.out.Write(p)
	if l.line != "" && len(p) > 0 && p[len(p)-1] == '\n' {
		io.WriteString(l.out, l.line)
	}
	return n, err
}

// set replaces the status line.
func (l *liveLine) set(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line = line
	fmt.Fprintf(l.out, "\r%s\x1b[K", line)
}

// finish clears the status line, leaving the cursor at the start of an
// empty line.
func (l *liveLine) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.line != "" {
		io.WriteString(l.out, "\r\x1b[K")
		l.line = ""
	}
}
