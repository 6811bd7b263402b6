package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"sort"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentileNearestRank(t *testing.T) {
	s := make([]time.Duration, 100)
	for i := range s {
		s[i] = ms(i + 1) // 1..100 ms
	}
	cases := []struct {
		p    float64
		want time.Duration
	}{{50, ms(50)}, {99, ms(99)}, {99.9, ms(100)}, {100, ms(100)}, {1, ms(1)}, {0, ms(1)}, {0.5, ms(1)}, {90, ms(90)}}
	for _, c := range cases {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := Percentile([]time.Duration{ms(7)}, 99); got != ms(7) {
		t.Errorf("one sample: %v", got)
	}
	// Four samples: p50 is the 2nd, p75 the 3rd, p76 the 4th.
	four := []time.Duration{ms(1), ms(2), ms(3), ms(4)}
	for p, want := range map[float64]time.Duration{50: ms(2), 75: ms(3), 76: ms(4)} {
		if got := Percentile(four, p); got != want {
			t.Errorf("four p%v = %v, want %v", p, got, want)
		}
	}
}

func TestRecorderStatsAndBound(t *testing.T) {
	r := NewRecorder(1000)
	perm := rand.New(rand.NewPCG(3, 4)).Perm(10000)
	for _, v := range perm {
		r.Add(time.Duration(v+1) * time.Microsecond) // 1..10000 µs, shuffled
	}
	r.Error(errors.New("boom"))
	st := r.Stats()
	if st.Count != 10000 || st.Errors != 1 || st.Max != 10000*time.Microsecond {
		t.Fatalf("count %d errors %d max %v", st.Count, st.Errors, st.Max)
	}
	if len(r.samples) != 1000 {
		t.Fatalf("kept %d samples, bound is 1000", len(r.samples))
	}
	// The reservoir is a uniform sample: its median is near the true one.
	if st.P50 < 4000*time.Microsecond || st.P50 > 6000*time.Microsecond {
		t.Fatalf("p50 %v, want about 5ms", st.P50)
	}
	if st.Mean != 5000500*time.Nanosecond {
		t.Fatalf("mean %v counts every sample, want 5.0005ms", st.Mean)
	}
	if len(st.ErrorSamples) != 1 || st.ErrorSamples[0] != "boom" {
		t.Fatalf("error samples %v", st.ErrorSamples)
	}
	// Exact when everything fits.
	r2 := NewRecorder(10)
	for _, v := range []int{5, 1, 4, 2, 3} {
		r2.Add(ms(v))
	}
	if st := r2.Stats(); st.P50 != ms(3) || st.P99 != ms(5) {
		t.Fatalf("p50 %v p99 %v", st.P50, st.P99)
	}
}

func TestMedian(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Fatal(m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatal(m)
	}
	if m := Median(nil); m != 0 {
		t.Fatal(m)
	}
}

func TestCheckLoopback(t *testing.T) {
	ok := []string{"http://127.0.0.1:8000", "http://localhost:8000", "ws://127.0.0.1:8001", "http://[::1]:8000", "http://127.1.2.3:80", "http://LOCALHOST"}
	for _, u := range ok {
		if err := CheckLoopback(u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	bad := []string{"http://10.0.0.1:8000", "http://example.com", "https://127.0.0.1:8000", "http://192.168.1.5", "http://[2001:db8::1]:80",
		"http://0.0.0.0:8000", "http://localhost.example.com", "ftp://127.0.0.1", "127.0.0.1:8000", "http://:8000", "http://127.0.0.1.nip.io"}
	for _, u := range bad {
		if err := CheckLoopback(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestPacingMath(t *testing.T) {
	if got := Scheduled(0, 1000); got != 0 {
		t.Fatal(got)
	}
	if got := Scheduled(1000, 1000); got != time.Second {
		t.Fatal(got)
	}
	if got := Scheduled(1, 5000); got != 200*time.Microsecond {
		t.Fatal(got)
	}
	if got := Scheduled(3, 3); got != time.Second {
		t.Fatal(got)
	}
	// Operation 0 is due at once; at 1,000/s, 10 more every 10 ms.
	for _, c := range []struct {
		elapsed time.Duration
		want    int64
	}{{-time.Millisecond, 0}, {0, 1}, {999 * time.Microsecond, 1}, {time.Millisecond, 2}, {10 * time.Millisecond, 11}, {time.Hour, 10000}} {
		if got := Due(c.elapsed, 1000, 10000); got != c.want {
			t.Errorf("Due(%v) = %d, want %d", c.elapsed, got, c.want)
		}
	}
	p := Plan{Rate: 1000, Duration: 10 * time.Second}
	if p.Total() != 10000 {
		t.Fatal(p.Total())
	}
	p.MaxOps = 500
	if p.Total() != 500 {
		t.Fatal(p.Total())
	}
	if (Plan{Rate: 0, MaxOps: 7}).Total() != 7 {
		t.Fatal("saturation total is MaxOps")
	}
}

func TestRunFixedRateIsBoundedAndPaced(t *testing.T) {
	var n atomic.Int64
	rec := NewRecorder(1000)
	plan := Plan{Rate: 200, Duration: 300 * time.Millisecond, Workers: 4}
	start := time.Now()
	res := Run(context.Background(), plan, func(ctx context.Context, w int) error {
		if n.Add(1)%10 == 0 {
			return errors.New("every tenth fails")
		}
		return nil
	}, rec)
	took := time.Since(start)
	// 200/s for 0.3 s schedules 60 operations; a few at the very end may be
	// cut by the deadline, never more than scheduled.
	if got := n.Load(); got > 60 || got < 50 {
		t.Fatalf("%d operations, want about 60", got)
	}
	if took > 2*time.Second {
		t.Fatalf("run took %v", took)
	}
	if res.Errors != n.Load()/10 || res.Count+res.Errors != n.Load() {
		t.Fatalf("count %d errors %d of %d", res.Count, res.Errors, n.Load())
	}
}

func TestRunSaturationStopsAtMaxOps(t *testing.T) {
	var n atomic.Int64
	rec := NewRecorder(100)
	res := Run(context.Background(), Plan{Duration: 5 * time.Second, Workers: 8, MaxOps: 1000}, func(ctx context.Context, w int) error {
		n.Add(1)
		return nil
	}, rec)
	if n.Load() != 1000 || res.Count != 1000 {
		t.Fatalf("ran %d, counted %d; want 1000", n.Load(), res.Count)
	}
	if res.Elapsed > 4*time.Second {
		t.Fatalf("did not stop at MaxOps: %v", res.Elapsed)
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tweb\nVmPeak:\t  900 kB\nVmRSS:\t   123456 kB\nThreads:\t8\n"
	got, err := ParseVmRSS(status)
	if err != nil || got != 123456*1024 {
		t.Fatalf("%d %v", got, err)
	}
	if _, err := ParseVmRSS("Name:\tx\n"); err == nil {
		t.Fatal("no VmRSS accepted")
	}
	if _, err := ParseVmRSS("VmRSS:\t12 MB\n"); err == nil {
		t.Fatal("unknown unit accepted")
	}
}

func TestSortedHelperMatchesSort(t *testing.T) {
	// Percentile expects sorted input; Stats sorts. Guard the contract.
	r := NewRecorder(10)
	for _, v := range []int{9, 3, 7} {
		r.Add(ms(v))
	}
	st := r.Stats()
	s := []time.Duration{ms(9), ms(3), ms(7)}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if st.P50 != Percentile(s, 50) || st.P50 != ms(7) {
		t.Fatalf("p50 %v", st.P50)
	}
}

func TestRaiseNoFile(t *testing.T) {
	var before syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &before) })
	got, err := RaiseNoFile(64) // below any real limit: nothing to do
	if err != nil || got < 64 {
		t.Fatalf("%d %v", got, err)
	}
	got, err = RaiseNoFile(before.Max)
	if err != nil || got < before.Max {
		t.Fatalf("soft limit not raised to the hard one: %d %v", got, err)
	}
	if NoFileTarget(20000) != 21024 {
		t.Fatal(NoFileTarget(20000))
	}
}

func TestParseStatCPU(t *testing.T) {
	// utime 1234, stime 56; the command name holds a space and a ')'.
	line := "4242 (wor ker)) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 12 0 100 0 0"
	got, err := ParseStatCPU(line)
	if err != nil || got != 1290 {
		t.Fatalf("got %d, %v; want 1290", got, err)
	}
	for _, bad := range []string{"", "4242 worker S 1", "1 (x) S 1 2 3 4 5 6 7 8 9 a b"} {
		if _, err := ParseStatCPU(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	self, err := ProcCPU(os.Getpid())
	if err != nil || self < 0 {
		t.Fatalf("own CPU: %v %v", self, err)
	}
	threads, err := ThreadsCPU(os.Getpid())
	if err != nil || threads <= 0 {
		t.Fatalf("own threads' CPU: %v %v", threads, err)
	}
}
