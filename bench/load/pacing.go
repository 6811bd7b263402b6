package load

import (
	"context"
	"sync"
	"time"
)

// Plan is a bounded run: saturation (Rate == 0: Workers loop back-to-back) or
// open-loop fixed rate (Rate operations per second, latency counted from each
// operation's scheduled start so a stalled server cannot hide its queueing).
// Either way the run stops at Duration or after MaxOps operations.
type Plan struct {
	Rate     float64
	Duration time.Duration
	Workers  int
	MaxOps   int64
}

// Total is how many operations a fixed-rate plan schedules: Rate × Duration,
// capped by MaxOps (when MaxOps > 0).
func (p Plan) Total() int64 {
	if p.Rate <= 0 {
		return p.MaxOps
	}
	n := int64(p.Rate * p.Duration.Seconds())
	if p.MaxOps > 0 && n > p.MaxOps {
		n = p.MaxOps
	}
	return n
}

// Scheduled is when operation i (from 0) of a fixed-rate run is due, relative
// to the run's start.
func Scheduled(i int64, rate float64) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / rate)
}

// Due is how many operations of a fixed-rate run are due elapsed after its
// start (operation 0 is due at once), capped at total.
func Due(elapsed time.Duration, rate float64, total int64) int64 {
	if elapsed < 0 {
		return 0
	}
	n := int64(elapsed.Seconds()*rate) + 1
	if n > total {
		n = total
	}
	return n
}

// Op is one operation of a scenario, run by worker w. It returns an error for
// a failed operation.
type Op func(ctx context.Context, w int) error

// Result is what Run measured.
type Result struct {
	Stats
	Elapsed time.Duration `json:"elapsed_ns"`
	// Throughput counts successful operations per second over Elapsed.
	Throughput float64 `json:"ops_per_sec"`
	// Late counts fixed-rate operations that started more than 10 ms after
	// their scheduled time (the generator or the workers fell behind).
	Late int64 `json:"late"`
}

// Run executes plan with op and records every operation in rec.
func Run(ctx context.Context, plan Plan, op Op, rec *Recorder) Result {
	if plan.Workers < 1 {
		plan.Workers = 1
	}
	ctx, cancel := context.WithTimeout(ctx, plan.Duration)
	defer cancel()
	start := time.Now()
	var late int64
	if plan.Rate <= 0 {
		var mu sync.Mutex
		var issued int64
		var wg sync.WaitGroup
		for w := 0; w < plan.Workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for ctx.Err() == nil {
					if plan.MaxOps > 0 {
						mu.Lock()
						if issued >= plan.MaxOps {
							mu.Unlock()
							return
						}
						issued++
						mu.Unlock()
					}
					t0 := time.Now()
					err := op(ctx, w)
					if ctx.Err() != nil && err != nil {
						return // cut off by the end of the run: not a server error
					}
					if err != nil {
						rec.Error(err)
					} else {
						rec.Add(time.Since(t0))
					}
				}
			}(w)
		}
		wg.Wait()
	} else {
		total := plan.Total()
		type job struct {
			i   int64
			due time.Time
		}
		jobs := make(chan job, plan.Workers)
		var mu sync.Mutex
		var wg sync.WaitGroup
		// Workers get a grace period after the schedule ends to finish what
		// was issued, bounded too.
		wctx, wcancel := context.WithTimeout(context.Background(), plan.Duration+10*time.Second)
		defer wcancel()
		for w := 0; w < plan.Workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for j := range jobs {
					if d := time.Since(j.due); d > 10*time.Millisecond {
						mu.Lock()
						late++
						mu.Unlock()
					}
					err := op(wctx, w)
					if err != nil {
						rec.Error(err)
					} else {
						rec.Add(time.Since(j.due))
					}
				}
			}(w)
		}
		var next int64
	gen:
		for next < total {
			due := Due(time.Since(start), plan.Rate, total)
			for ; next < due; next++ {
				select {
				case jobs <- job{i: next, due: start.Add(Scheduled(next, plan.Rate))}:
				case <-ctx.Done():
					break gen
				}
			}
			if next >= total {
				break
			}
			wait := time.Until(start.Add(Scheduled(next, plan.Rate)))
			if wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					break gen
				}
			}
		}
		close(jobs)
		wg.Wait()
	}
	elapsed := time.Since(start)
	st := rec.Stats()
	return Result{Stats: st, Elapsed: elapsed, Throughput: float64(st.Count) / elapsed.Seconds(), Late: late}
}
