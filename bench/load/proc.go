package load

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ParseVmRSS reads the VmRSS line of a /proc/<pid>/status text, in bytes.
func ParseVmRSS(status string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "VmRSS:"))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS line %q: %w", line, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// RSS is the resident set size of process pid, in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS of pid %d: %w", pid, err)
	}
	return ParseVmRSS(string(b))
}

// NoFileTarget is the open-files limit to ask for: the sockets plus headroom.
func NoFileTarget(sockets int) uint64 { return uint64(sockets) + 1024 }

// RaiseNoFile raises this process's open-files limit to at least want
// (sockets scenarios need one descriptor per socket): the soft limit up to the
// hard one, and the hard one too when allowed (root). It returns the limit in
// force; an error when it stays below want.
func RaiseNoFile(want uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur >= want {
		return l.Cur, nil
	}
	if l.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			return want, nil
		}
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("setrlimit NOFILE %d: %w", l.Max, err)
	}
	if l.Cur < want {
		return l.Cur, fmt.Errorf("open-files limit %d is below the %d needed (raise the hard limit: run as root or `ulimit -Hn`)", l.Cur, want)
	}
	return l.Cur, nil
}

// LoadAvg is the 1-minute load average (/proc/loadavg), or -1 when unknown:
// the figures of a run on a busy machine are not the server's alone.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// ClockTicks is USER_HZ, the unit of /proc/<pid>/stat's utime and stime
// (100 on every Linux architecture Go targets).
const ClockTicks = 100

// ParseStatCPU reads utime + stime (fields 14 and 15) of a /proc/<pid>/stat
// line, in clock ticks. The command name (field 2) may hold spaces and
// parentheses, so the fields are counted after its last ')'.
func ParseStatCPU(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected stat line %.80q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14 → f[11], stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat line too short: %.80q", stat)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat utime/stime %q %q", f[11], f[12])
	}
	return u + s, nil
}

// ProcCPU is the CPU time (user + system) process pid has used, from
// /proc/<pid>/stat (10 ms resolution).
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU of pid %d: %w", pid, err)
	}
	t, err := ParseStatCPU(string(b))
	if err != nil {
		return 0, err
	}
	return time.Duration(t) * (time.Second / ClockTicks), nil
}

// ThreadsCPU is the time on CPU of pid's live threads, summed from
// /proc/<pid>/task/*/schedstat (nanoseconds: finer than ProcCPU's ticks, for
// windows of a few milliseconds; threads that exited are not counted, which
// Go's runtime rarely does).
func ThreadsCPU(pid int) (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("read threads of pid %d: %w", pid, err)
	}
	var sum int64
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("schedstat %q: %w", b, err)
		}
		sum += ns
	}
	return time.Duration(sum), nil
}
