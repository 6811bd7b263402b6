package djangoimport

// FailAfter makes a run stop with an error after n committed batches, as a
// killed process would (tests of resuming).
func FailAfter(o *Options, n int) { o.failAfterBatches = n }
