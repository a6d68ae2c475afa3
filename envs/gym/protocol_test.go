package gym

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// obsPayload encodes an observation reply as the bridge does.
func obsPayload(reward float64, flags byte, ns uint64, vec []float64, h, w int, pix []byte) []byte {
	p := binary.LittleEndian.AppendUint64(nil, math.Float64bits(reward))
	p = append(p, flags)
	p = binary.LittleEndian.AppendUint64(p, ns)
	p = binary.LittleEndian.AppendUint32(p, uint32(len(vec)))
	for _, v := range vec {
		p = binary.LittleEndian.AppendUint64(p, math.Float64bits(v))
	}
	p = binary.LittleEndian.AppendUint16(p, uint16(h))
	p = binary.LittleEndian.AppendUint16(p, uint16(w))
	return append(p, pix...)
}

func TestDecodeObs(t *testing.T) {
	good := obsPayload(-1.5, flagTruncated, 1234, []float64{1, math.Inf(-1)}, 1, 2, []byte{1, 2, 3, 4, 5, 6})
	o, err := decodeObs(good)
	if err != nil {
		t.Fatal(err)
	}
	if o.Reward != -1.5 || o.Terminated || !o.Truncated || o.EnvNanos != 1234 || o.N != 2 || o.Frame.H != 1 || o.Frame.W != 2 || !bytes.Equal(o.Frame.Pix, []byte{1, 2, 3, 4, 5, 6}) {
		t.Errorf("decoded %+v", o)
	}
	tests := []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"short head", good[:10]},
		{"unknown flags", obsPayload(0, 4, 0, nil, 0, 0, nil)},
		{"vector longer than the payload", append(obsPayload(0, 0, 0, nil, 0, 0, nil)[:17], 255, 255, 255, 255)},
		{"no frame header", obsPayload(0, 0, 0, []float64{1}, 0, 0, nil)[:obsHeadSize+8]},
		{"frame shorter than its size", obsPayload(0, 0, 0, nil, 2, 2, []byte{1, 2, 3})},
		{"frame longer than its size", obsPayload(0, 0, 0, nil, 1, 1, []byte{1, 2, 3, 4})},
		{"frame of zero height", obsPayload(0, 0, 0, nil, 0, 2, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeObs(tt.p); !errors.Is(err, errGarbage) {
				t.Errorf("error %v, want garbage", err)
			}
		})
	}
}

func TestRecvGarbage(t *testing.T) {
	tests := []struct {
		name, stream, want string
	}{
		{"text", "Traceback (most recent call last):\n", `"Traceback (most recent call last):\n"`},
		{"huge length", "O\xff\xff\xff\x7f", `"O\xff\xff\xff\x7f"`},
		{"request tag", "S\x00\x00\x00\x00", `"S\x00\x00\x00\x00"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := conn{r: bufio.NewReader(strings.NewReader(tt.stream))}
			_, _, err := c.recv(maxPayload)
			if !errors.Is(err, errGarbage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want garbage quoting %s", err, tt.want)
			}
		})
	}
}

// FuzzDecodeObs checks that no payload panics the decoder and that what
// it accepts is consistent with the payload's length.
func FuzzDecodeObs(f *testing.F) {
	f.Add(obsPayload(1, 1, 2, []float64{3}, 1, 1, []byte{4, 5, 6}))
	f.Add(obsPayload(0, 0, 0, nil, 0, 0, nil))
	f.Fuzz(func(t *testing.T, p []byte) {
		o, err := decodeObs(p)
		if err != nil {
			return
		}
		if len(p) != obsHeadSize+8*o.N+4+3*o.Frame.H*o.Frame.W || len(o.Frame.Pix) != 3*o.Frame.H*o.Frame.W {
			t.Fatalf("accepted %d bytes as %d numbers and a %dx%d frame", len(p), o.N, o.Frame.H, o.Frame.W)
		}
	})
}
