package gym

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ProtocolVersion is the version of the protocol dream and its bridge
// speak; the bridge announces its own in its hello and a mismatch is an
// error (the bridge is embedded, so it happens only with a foreign one).
const ProtocolVersion = 1

// magic is the first field of the bridge's hello.
const magic = "dream-gym"

// Message tags. Every message is a tag byte, a little-endian u32 payload
// length and the payload (docs/gym.md describes each one).
const (
	tagHello = 'H' // bridge → dream: JSON hello
	tagMake  = 'M' // dream → bridge: JSON make request
	tagInfo  = 'I' // bridge → dream: JSON spaces
	tagReset = 'R' // dream → bridge: u64 seed
	tagStep  = 'S' // dream → bridge: f64 × action dimension
	tagFrame = 'F' // dream → bridge: render now
	tagQuit  = 'Q' // dream → bridge: exit
	tagObs   = 'O' // bridge → dream: reward, flags, env time, observation, frame
	tagPic   = 'P' // bridge → dream: a frame
	tagError = 'E' // bridge → dream: JSON error; the bridge exits after it
)

// headSize is the size of a message's tag and length.
const headSize = 5

// obsHeadSize is the size of an observation reply's fixed part: f64
// reward, u8 flags, u64 nanoseconds, u32 observation length.
const obsHeadSize = 8 + 1 + 8 + 4

// Flags of an observation reply.
const (
	flagTerminated = 1
	flagTruncated  = 2
)

// maxPayload bounds a message's length: a frame of 4096×4096 RGB with
// room to spare. A longer one is garbage.
const maxPayload = 64 << 20

// maxJSON bounds a JSON message (a Box's bounds are listed in it).
const maxJSON = 16 << 20

// errGarbage reports a message that is not the protocol.
var errGarbage = errors.New("garbage")

// hello is the bridge's first message.
type hello struct {
	Magic    string `json:"magic"`
	Protocol int    `json:"protocol"`
	Python   string `json:"python"`
	Numpy    string `json:"numpy"`
}

// makeRequest asks the bridge to make the environment.
type makeRequest struct {
	ID     string          `json:"id"`
	Kwargs json.RawMessage `json:"kwargs"`
	// Frames asks for a rendered frame with every observation; Vector
	// for the observation itself.
	Frames bool `json:"frames"`
	Vector bool `json:"vector"`
}

// info is the bridge's description of the environment it made.
type info struct {
	Action          spaceInfo `json:"action"`
	Observation     spaceInfo `json:"observation"`
	MaxEpisodeSteps *int      `json:"max_episode_steps"`
	Gymnasium       string    `json:"gymnasium"`
}

// spaceInfo describes a Gymnasium space: Discrete (N, Start), Box (Shape,
// DType, and Low and High where asked for) or another type, named with
// its repr.
type spaceInfo struct {
	Type  string      `json:"type"`
	N     int         `json:"n"`
	Start int         `json:"start"`
	Shape []int       `json:"shape"`
	DType string      `json:"dtype"`
	Low   []jsonFloat `json:"low"`
	High  []jsonFloat `json:"high"`
	Repr  string      `json:"repr"`
}

// bridgeError is the bridge's error reply.
type bridgeError struct {
	// Kind is "module" (a missing Python module), "unknown_id", "make"
	// (gymnasium.make failed otherwise), "env" (the environment raised),
	// "observation", "frame" or "protocol".
	Kind    string `json:"kind"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// jsonFloat is a float64 that JSON carries as a number or, when not
// finite, as "inf", "-inf" or "nan".
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "inf":
			*f = jsonFloat(math.Inf(1))
		case "-inf":
			*f = jsonFloat(math.Inf(-1))
		case "nan":
			*f = jsonFloat(math.NaN())
		default:
			return fmt.Errorf("gym: bound %q is not a number", s)
		}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("gym: bound %s is not a number", b)
	}
	*f = jsonFloat(v)
	return nil
}

// conn is the pipe pair to the bridge, with the buffers it reuses so that
// a step allocates nothing.
type conn struct {
	w    io.Writer
	r    *bufio.Reader
	req  []byte
	rep  []byte
	head [headSize]byte
}

// send writes one message with the given payload.
func (c *conn) send(tag byte, payload []byte) error {
	c.req = append(c.req[:0], tag, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(c.req[1:], uint32(len(payload)))
	c.req = append(c.req, payload...)
	_, err := c.w.Write(c.req)
	return err
}

// sendSeed writes a reset request.
func (c *conn) sendSeed(seed uint64) error {
	c.req = append(c.req[:0], tagReset, 8, 0, 0, 0)
	c.req = binary.LittleEndian.AppendUint64(c.req, seed)
	_, err := c.w.Write(c.req)
	return err
}

// sendAction writes a step request.
func (c *conn) sendAction(a []float64) error {
	c.req = append(c.req[:0], tagStep, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(c.req[1:], uint32(8*len(a)))
	for _, v := range a {
		c.req = binary.LittleEndian.AppendUint64(c.req, math.Float64bits(v))
	}
	_, err := c.w.Write(c.req)
	return err
}

// recv reads one message. The payload is owned by c and valid until the
// next recv. A length over limit is garbage.
func (c *conn) recv(limit int) (tag byte, payload []byte, err error) {
	head := c.head[:]
	if _, err := io.ReadFull(c.r, head); err != nil {
		return 0, nil, err
	}
	tag = head[0]
	n := binary.LittleEndian.Uint32(head[1:])
	if !knownReply(tag) || int64(n) > int64(limit) {
		// The rest of the stream is not read: report what came.
		return tag, head, fmt.Errorf("%w: %s", errGarbage, describeGarbage(head, c.r))
	}
	if cap(c.rep) < int(n) {
		c.rep = make([]byte, n)
	}
	c.rep = c.rep[:n]
	if _, err := io.ReadFull(c.r, c.rep); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return tag, nil, err
	}
	return tag, c.rep, nil
}

// knownReply reports whether tag is a message the bridge sends.
func knownReply(tag byte) bool {
	switch tag {
	case tagHello, tagInfo, tagObs, tagPic, tagError:
		return true
	}
	return false
}

// describeGarbage quotes the start of what the bridge wrote instead of a
// message: the head read and what is already buffered after it.
func describeGarbage(head []byte, r *bufio.Reader) string {
	more, _ := r.Peek(min(r.Buffered(), 40))
	b := append(append([]byte(nil), head...), more...)
	return strconv.QuoteToASCII(string(b))
}

// obsReply is a decoded observation reply; Vector and Frame alias the
// connection's buffer.
type obsReply struct {
	Reward     float64
	Terminated bool
	Truncated  bool
	EnvNanos   uint64
	Vector     []byte // n × f64, little-endian
	N          int
	Frame      frame
}

// frame is an RGB picture, row-major, 3 bytes a pixel.
type frame struct {
	H, W int
	Pix  []byte
}

// decodeObs decodes an observation reply's payload, checking every length
// against the payload's.
func decodeObs(p []byte) (obsReply, error) {
	var o obsReply
	if len(p) < obsHeadSize {
		return o, fmt.Errorf("%w: an observation of %d bytes (allowed: at least %d)", errGarbage, len(p), obsHeadSize)
	}
	o.Reward = math.Float64frombits(binary.LittleEndian.Uint64(p))
	flags := p[8]
	if flags&^(flagTerminated|flagTruncated) != 0 {
		return o, fmt.Errorf("%w: observation flags %#x", errGarbage, flags)
	}
	o.Terminated, o.Truncated = flags&flagTerminated != 0, flags&flagTruncated != 0
	o.EnvNanos = binary.LittleEndian.Uint64(p[9:])
	n := binary.LittleEndian.Uint32(p[17:])
	rest := p[obsHeadSize:]
	if uint64(n)*8 > uint64(len(rest)) {
		return o, fmt.Errorf("%w: an observation of %d numbers in %d bytes", errGarbage, n, len(rest))
	}
	o.N = int(n)
	o.Vector, rest = rest[:8*o.N], rest[8*o.N:]
	f, err := decodeFrame(rest)
	o.Frame = f
	return o, err
}

// decodeFrame decodes a frame: u16 height, u16 width and the pixels,
// which must fill p exactly.
func decodeFrame(p []byte) (frame, error) {
	if len(p) < 4 {
		return frame{}, fmt.Errorf("%w: a frame of %d bytes (allowed: at least 4)", errGarbage, len(p))
	}
	h, w := int(binary.LittleEndian.Uint16(p)), int(binary.LittleEndian.Uint16(p[2:]))
	if len(p)-4 != h*w*3 || (h == 0) != (w == 0) {
		return frame{}, fmt.Errorf("%w: a frame of %d×%d in %d bytes", errGarbage, h, w, len(p)-4)
	}
	return frame{H: h, W: w, Pix: p[4:]}, nil
}

// decodeJSON decodes a JSON payload strictly.
func decodeJSON(p []byte, v any) error {
	if err := json.Unmarshal(p, v); err != nil {
		return fmt.Errorf("%w: %v", errGarbage, err)
	}
	return nil
}
