package worldmodel

import (
	"runtime"
	"sync/atomic"
	"time"
)

// ranger is work on a range of rows [lo, hi) that may run on any
// goroutine: parts of one job touch disjoint rows.
type ranger interface {
	run(lo, hi int)
}

// pool splits row-parallel work between the calling goroutine and helper
// goroutines, one per further core (up to maxWorkers in all), so that the
// products of a step use every core of a small machine.
//
// A job is cut into chunksPerWorker chunks of contiguous rows per worker.
// The caller and the helpers claim chunks one at a time from a shared
// counter until none is left, so a helper that the operating system has
// not scheduled, or has paused (a busy machine), holds up at most the one
// chunk it is computing: the caller computes every chunk nobody has
// claimed. Each row is computed exactly as it would be serially, and the
// chunks of a job do not depend on who computes them, so results are the
// same from run to run. The helpers wait on a channel between jobs and
// end when the Model that owns the pool is garbage collected. A nil pool
// runs everything on the caller.
type pool struct {
	workers int
	seq     uint32 // of the current split; wraps, as next keeps 32 bits of it
	state   *splitState
	wake    chan *splitState
}

// splitState is the shared state of the current split. next packs the
// split's sequence number, its number of chunks and the next unclaimed
// chunk (seq<<2·chunkBits | chunks<<chunkBits | next), so that a helper
// that wakes late claims nothing of a split that has ended and reads
// nothing that the caller is rewriting. job and n are written before the
// split's next is published and read only after a chunk of it is claimed.
type splitState struct {
	next     atomic.Uint64
	job      ranger
	n        int
	finished chan struct{} // one value per chunk a helper finishes
}

const (
	// maxWorkers bounds the goroutines of a job: beyond a few cores the
	// products of a small model are too short to split further.
	maxWorkers = 4
	// chunksPerWorker is the number of chunks per worker: more chunks
	// bound the wait for a paused helper, fewer make longer products.
	chunksPerWorker = 2
	// minParallelWork is the least work (multiply–adds) of a job worth
	// waking the helpers: waking a parked goroutine costs microseconds,
	// and a product of a few million multiply–adds (256×128×128, the
	// predictor's trunk at batch 256) measured slower split in two than
	// whole on one core of a 2-core machine.
	minParallelWork = 1 << 23
	// moveWork is the work, in multiply–adds, that a job counts for each
	// value it only reads and writes (standardising, the Adam update):
	// memory moves at about a sixteenth of the rate of a product's
	// multiply–adds.
	moveWork  = 16
	chunkBits = 16 // bits of a chunk count in splitState.next
	chunkMask = 1<<chunkBits - 1
)

// newPool starts the helpers of a pool, or returns nil on one core.
func newPool() *pool {
	workers := min(runtime.GOMAXPROCS(0), maxWorkers)
	if workers < 2 {
		return nil
	}
	p := &pool{
		workers: workers,
		state:   &splitState{finished: make(chan struct{}, maxWorkers*chunksPerWorker)},
		wake:    make(chan *splitState, maxWorkers),
	}
	for range workers - 1 {
		go serve(p.wake)
	}
	return p
}

// spinFor is how long a helper polls for the next split before it parks.
// The splits of a step come microseconds apart, while waking a parked
// goroutine whose core has gone idle can take tens of microseconds (more
// in a virtual machine), as long as a whole chunk.
const spinFor = 50 * time.Microsecond

// serve helps with each split it is woken for until wake is closed. It
// holds no reference to the pool, and none to the Model between splits,
// so that the Model can be collected.
func serve(wake <-chan *splitState) {
	for {
		s, ok := nextSplit(wake)
		if !ok {
			return
		}
		seq := s.next.Load() >> (2 * chunkBits)
		for {
			lo, hi, ok := s.claim(seq)
			if !ok {
				break
			}
			s.job.run(lo, hi)
			s.finished <- struct{}{}
		}
	}
}

// nextSplit polls wake for spinFor, then waits on it; ok is false once
// wake is closed.
func nextSplit(wake <-chan *splitState) (s *splitState, ok bool) {
	start := time.Now()
	for time.Since(start) < spinFor {
		select {
		case s, ok = <-wake:
			return s, ok
		default:
		}
	}
	s, ok = <-wake
	return s, ok
}

// claim takes the next chunk of split seq, if any is left.
func (s *splitState) claim(seq uint64) (lo, hi int, ok bool) {
	for {
		v := s.next.Load()
		i, chunks := int(v&chunkMask), int(v>>chunkBits&chunkMask)
		if v>>(2*chunkBits) != seq || i >= chunks {
			return 0, 0, false
		}
		if s.next.CompareAndSwap(v, v+1) {
			return i * s.n / chunks, (i + 1) * s.n / chunks, true
		}
	}
}

// close ends the helpers.
func (p *pool) close() { close(p.wake) }

// split runs job on rows [0, n): in chunks of at least minRows rows shared
// with the helpers when work (multiply–adds in all) is worth it, and
// otherwise on the caller alone.
func (p *pool) split(n, minRows, work int, job ranger) {
	p.splitWhile(n, minRows, work, job, nil)
}

// splitWhile is split, and runs meanwhile (unless nil) on the caller while
// the helpers start on the job, before the caller takes its share:
// meanwhile is serial work that does not depend on the job.
func (p *pool) splitWhile(n, minRows, work int, job ranger, meanwhile func()) {
	chunks := 1
	if p != nil && work >= minParallelWork {
		chunks = min(p.workers*chunksPerWorker, n/max(minRows, 1), chunkMask)
	}
	if chunks < 2 {
		if meanwhile != nil {
			meanwhile()
		}
		job.run(0, n)
		return
	}
	s := p.state
	// The previous split has no helper left in it: the caller waited for
	// every chunk a helper claimed, and a late helper claims nothing.
	p.seq++
	seq := uint64(p.seq)
	s.job, s.n = job, n
	s.next.Store(seq<<(2*chunkBits) | uint64(chunks)<<chunkBits)
	for range p.workers - 1 {
		select {
		case p.wake <- s:
		default: // the helpers are behind: the caller does their share
		}
	}
	if meanwhile != nil {
		meanwhile()
	}
	own := 0
	for {
		lo, hi, ok := s.claim(seq)
		if !ok {
			break
		}
		job.run(lo, hi)
		own++
	}
	for range chunks - own {
		<-s.finished
	}
	s.job = nil // the job may point into the Model
}

// workers returns the model's pool, starting it on first use; its helpers
// end when m is garbage collected.
func (m *Model) workers() *pool {
	if m.pool == nil && !m.noPool {
		m.pool = newPool()
		if m.pool == nil {
			m.noPool = true
		} else {
			runtime.AddCleanup(m, (*pool).close, m.pool)
		}
	}
	return m.pool
}
