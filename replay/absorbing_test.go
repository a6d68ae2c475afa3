package replay

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestAbsorbing(t *testing.T) {
	spec := Spec{ObsDim: 1, ActionDim: 1}
	b, err := New(spec, 100)
	if err != nil {
		t.Fatal(err)
	}
	const k = 3
	b.SetAbsorbing(k)
	obs := func(v float32) Obs { return Obs{Vector: []float32{v}} }
	// Episode 1: o0 -a1-> o1 -a2-> o2 (terminated, reward 5).
	b.StartEpisode(obs(0))
	b.Append([]float32{1}, 0, false, false, obs(1))
	b.Append([]float32{2}, 5, true, false, obs(2))
	// Episode 2 is truncated: no padding.
	b.StartEpisode(obs(10))
	b.Append([]float32{1}, 0, false, false, obs(11))
	b.Append([]float32{1}, 0, false, true, obs(12))
	if got, want := b.Len(), 2+k+2; got != want {
		t.Fatalf("Len %d, want %d", got, want)
	}
	// Starts with k transitions inside one episode: episode 1 has 2+k
	// transitions (starts 0…2), episode 2 has 2 (none).
	if got := b.Sequences(k, 1); got != 3 {
		t.Fatalf("Sequences(%d) = %d, want 3", k, got)
	}
	batch := NewBatch(spec, 64, k, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	if err := b.Sample(rng, batch); err != nil {
		t.Fatal(err)
	}
	sawTerminalFirst := false
	for i := 0; i < batch.B; i++ {
		if batch.Vectors[i] == 1 && batch.Rewards[i] == 5 && batch.Terminated[i] == 1 {
			sawTerminalFirst = true
			for j := 1; j < k; j++ {
				if batch.Terminated[j*batch.B+i] != 1 || batch.Rewards[j*batch.B+i] != 0 || batch.Actions[j*batch.B+i] != 2 {
					t.Errorf("absorbing step %d: terminated %v reward %v action %v", j, batch.Terminated[j*batch.B+i], batch.Rewards[j*batch.B+i], batch.Actions[j*batch.B+i])
				}
			}
			for j := 1; j <= k; j++ {
				if v := batch.Vectors[j*batch.B+i]; v != 2 {
					t.Errorf("absorbing observation %d = %v, want the terminal one", j, v)
				}
			}
		}
		if v := batch.Vectors[i]; v >= 10 {
			t.Errorf("a sequence of the truncated episode was sampled")
		}
	}
	if !sawTerminalFirst {
		t.Error("no sequence starts at the terminal transition")
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	c, err := Read(&buf)
	if err != nil {
		t.Fatalf("reading a buffer with absorbing steps: %v", err)
	}
	if c.Len() != b.Len() || c.Sequences(k, 1) != 3 {
		t.Errorf("after reload: Len %d, sequences %d", c.Len(), c.Sequences(k, 1))
	}
}
