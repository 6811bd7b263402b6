// Package load is the engine of the Hermez load tool (bench/cmd/load):
// bounded latency recording with exact percentiles, loopback-only targets,
// open-loop pacing for fixed-rate runs and closed-loop saturation runs.
package load

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Recorder keeps at most Max latency samples (reservoir sampling beyond that,
// so memory stays bounded and the kept samples stay unbiased) and counts
// every result. It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	max     int
	seen    int64
	errors  int64
	samples []time.Duration
	maxSeen time.Duration
	sum     time.Duration
	rng     *rand.Rand
	errMsgs []string
}

// NewRecorder keeps up to max samples (max ≥ 1).
func NewRecorder(max int) *Recorder {
	if max < 1 {
		max = 1
	}
	return &Recorder{max: max, samples: make([]time.Duration, 0, min(max, 1<<16)), rng: rand.New(rand.NewPCG(1, 2))}
}

// Add records one successful operation's latency.
func (r *Recorder) Add(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	r.sum += d
	if d > r.maxSeen {
		r.maxSeen = d
	}
	if len(r.samples) < r.max {
		r.samples = append(r.samples, d)
		return
	}
	if j := r.rng.Int64N(r.seen); j < int64(r.max) {
		r.samples[j] = d
	}
}

// Error records one failed operation (its latency is not recorded); the first
// few messages are kept for the report.
func (r *Recorder) Error(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors++
	if len(r.errMsgs) < 5 && err != nil {
		r.errMsgs = append(r.errMsgs, err.Error())
	}
}

// Stats summarizes what was recorded.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	s := append([]time.Duration(nil), r.samples...)
	st := Stats{Count: r.seen, Errors: r.errors, Max: r.maxSeen, ErrorSamples: append([]string(nil), r.errMsgs...)}
	if r.seen > 0 {
		st.Mean = r.sum / time.Duration(r.seen)
	}
	r.mu.Unlock()
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	st.P50 = Percentile(s, 50)
	st.P90 = Percentile(s, 90)
	st.P99 = Percentile(s, 99)
	st.P999 = Percentile(s, 99.9)
	return st
}

// Stats is a latency summary.
type Stats struct {
	Count        int64         `json:"count"`
	Errors       int64         `json:"errors"`
	Mean         time.Duration `json:"mean_ns"`
	P50          time.Duration `json:"p50_ns"`
	P90          time.Duration `json:"p90_ns"`
	P99          time.Duration `json:"p99_ns"`
	P999         time.Duration `json:"p999_ns"`
	Max          time.Duration `json:"max_ns"`
	ErrorSamples []string      `json:"error_samples,omitempty"`
}

// Percentile is the nearest-rank percentile p (0 < p ≤ 100) of sorted
// samples: the smallest sample such that at least p% of the samples are ≤ it.
// It is 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// Median of values (the mean of the two middle ones for an even count).
func Median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
