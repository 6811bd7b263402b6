package djangoimport

import (
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is the account of one run.
type Report struct {
	DryRun, Merge bool
	ImportTime    time.Time // the value given to created_at / updated_at the old rows lack
	Tables        []*TableReport
	Refusals      []Finding // rows that stopped the import (nothing written)
	Corrections   []Finding // rows imported with a corrected value, or as is with a remark
	Foreign       []string  // target rows not from this source (refused without --merge)
	Notes         []string  // mappings and fills
	Verify        []VerifyResult
	Duration      time.Duration
	Stopped       string // the error that stopped the run before its end

	mu     sync.Mutex
	totals map[string]int64 // per rule: rows that break it (the lists stop at MaxListed)
}

// TableReport counts one table's rows.
type TableReport struct {
	Name                   string
	Read, Written, Skipped int64 // skipped: already in the target
	Filled                 int64 // of Written: rows already there whose empty fields were filled (users)
	Duration               time.Duration
}

// Finding names one row that breaks a rule of ours.
type Finding struct {
	Table, ID, Column, Value, Problem, Action string
	total                                     int64
}

// VerifyResult compares one table on both sides.
type VerifyResult struct {
	Table                    string
	SourceCount, TargetCount int64
	SourceSum, TargetSum     string
	OK                       bool
	Note                     string
}

func (r *Report) table(name string) *TableReport {
	for _, t := range r.Tables {
		if t.Name == name {
			return t
		}
	}
	t := &TableReport{Name: name}
	r.Tables = append(r.Tables, t)
	return t
}

// Table returns the counts of one table (nil when the run did not reach it).
func (r *Report) Table(name string) *TableReport {
	for _, t := range r.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func (r *Report) refuse(f Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Refusals = append(r.Refusals, f)
	r.count(f)
}

func (r *Report) correct(f Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Corrections = append(r.Corrections, f)
	r.count(f)
}

func (r *Report) count(f Finding) {
	if r.totals == nil {
		r.totals = map[string]int64{}
	}
	k := f.Table + "." + f.Column + ": " + f.Problem
	if f.total > 0 {
		r.totals[k] = f.total
	} else {
		r.totals[k]++
	}
}

func (r *Report) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *Report) written() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Written
	}
	return n
}

// Written is the number of rows the run wrote (or, dry, would write).
func (r *Report) Written() int64 { return r.written() }

func (r *Report) mismatch() bool {
	for _, v := range r.Verify {
		if !v.OK {
			return true
		}
	}
	return false
}

// Print writes the human account: findings, the per-table table, the verification.
func (r *Report) Print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.Refusals) > 0 {
		fmt.Fprintln(w, "Refused: rows that break a rule of ours (nothing was written; fix them in the Django database and run again):")
		r.printFindings(w, r.Refusals)
	}
	if len(r.Foreign) > 0 {
		fmt.Fprintln(w, "Refused: the target already holds marketplace rows that are not from this source (run with --merge to import next to them):")
		for _, f := range r.Foreign {
			fmt.Fprintln(w, "  "+f)
		}
	}
	if len(r.Corrections) > 0 {
		fmt.Fprintln(w, "Corrected or remarked rows:")
		r.printFindings(w, r.Corrections)
	}
	notes := append([]string{}, r.Notes...)
	for _, t := range r.Tables {
		if t.Filled > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d rows already here had empty fields filled from the old rows", t.Name, t.Filled))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "Mappings and filled fields:")
		for _, n := range notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	if len(r.Tables) > 0 {
		verb := "written"
		if r.DryRun {
			verb = "would write"
		}
		fmt.Fprintf(w, "\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "table\tread\t%s\tskipped (already there)\trows/s\t\n", verb)
		for _, t := range r.Tables {
			rate := "-"
			if t.Duration > 0 && t.Read > 0 {
				rate = fmt.Sprintf("%.0f", float64(t.Read)/t.Duration.Seconds())
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", t.Name, t.Read, t.Written, t.Skipped, rate)
		}
		tw.Flush()
	}
	if len(r.Verify) > 0 {
		fmt.Fprintln(w, "\nVerification (count and checksum of key columns, source vs target):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, v := range r.Verify {
			state := "ok"
			if !v.OK {
				state = "MISMATCH"
			}
			detail := fmt.Sprintf("%d / %d rows", v.SourceCount, v.TargetCount)
			if v.Note != "" {
				detail = v.Note
			} else if v.SourceSum != "" && v.SourceSum != v.TargetSum {
				detail += fmt.Sprintf(", checksum %s / %s", v.SourceSum, v.TargetSum)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Table, state, detail)
		}
		tw.Flush()
	}
	switch {
	case r.Stopped != "":
		fmt.Fprintf(w, "\nStopped before the end: %s\n", r.Stopped)
		if len(r.Tables) > 0 && !r.DryRun {
			fmt.Fprintln(w, "Every committed batch is whole; running the import again continues from there.")
		}
	case len(r.Refusals) > 0 || len(r.Foreign) > 0:
		fmt.Fprintln(w, "\nNothing was written.")
	case r.mismatch():
		fmt.Fprintln(w, "\nThe verification found a mismatch (see above).")
	case r.DryRun && len(r.Tables) > 0:
		fmt.Fprintf(w, "\nDry run: %d rows would be written; everything was rolled back.\n", r.written())
	case len(r.Tables) > 0 && r.written() == 0:
		fmt.Fprintf(w, "\nNothing to do: the target already holds every row of the source (no row written; checked and verified in %s).\n", r.Duration.Round(time.Millisecond))
	case len(r.Tables) > 0:
		fmt.Fprintf(w, "\nImported %d rows in %s; verification passed.\n", r.written(), r.Duration.Round(time.Millisecond))
	}
}

func (r *Report) printFindings(w io.Writer, fs []Finding) {
	shown := map[string]int{}
	for _, f := range fs {
		k := f.Table + "." + f.Column + ": " + f.Problem
		shown[k]++
		if shown[k] > MaxListed {
			continue
		}
		fmt.Fprintf(w, "  %s %s: %s %q %s → %s\n", f.Table, f.ID, f.Column, f.Value, f.Problem, f.Action)
	}
	for k, n := range r.totals {
		if int64(shown[k]) < n {
			fmt.Fprintf(w, "  … %s: %d rows in all (%d listed)\n", k, n, min(shown[k], MaxListed))
		}
	}
}
