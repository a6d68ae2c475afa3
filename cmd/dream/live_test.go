package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestLiveLine(t *testing.T) {
	cases := []struct {
		name string
		do   func(l *liveLine)
		want string
	}{
		{"lines only", func(l *liveLine) {
			l.Write([]byte("a\n"))
			l.Write([]byte("b\n"))
		}, "a\nb\n"},
		{"status then a line", func(l *liveLine) {
			l.set("1/2 runs")
			l.Write([]byte("done a\n"))
			l.set("2/2 runs")
			l.finish()
		}, "\r1/2 runs\x1b[K" + "\r\x1b[Kdone a\n1/2 runs" + "\r2/2 runs\x1b[K" + "\r\x1b[K"},
		{"finish without status", func(l *liveLine) {
			l.Write([]byte("x\n"))
			l.finish()
		}, "x\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			c.do(&liveLine{out: &b})
			if got := b.String(); got != c.want {
				t.Errorf("wrote %q, want %q", got, c.want)
			}
		})
	}
}

func TestProgressBar(t *testing.T) {
	cases := []struct {
		frac float64
		done int
	}{{0, 0}, {0.5, 12}, {0.999, 23}, {1, 24}, {-1, 0}, {2, 24}}
	for _, c := range cases {
		got := progressBar(c.frac)
		want := "[" + strings.Repeat("#", c.done) + strings.Repeat(".", barWidth-c.done) + "]"
		if got != want {
			t.Errorf("progressBar(%g) = %q, want %q", c.frac, got, want)
		}
	}
}
