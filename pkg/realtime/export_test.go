package realtime

// Running reports whether Run is queueing the published marks (tests).
func (o *Outbox) Running() bool {
	o.marks.mu.Lock()
	defer o.marks.mu.Unlock()
	return o.marks.running
}
