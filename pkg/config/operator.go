package config

// Operator is the operator's side of the METRICS_ADDR listener beyond
// /metrics: the River UI at /riverui/.
type Operator struct {
	// Token (OPERATOR_TOKEN) is the operator's password for /riverui/;
	// without it the UI is not served at all.
	Token string
	// RiverUIWrite (RIVERUI_WRITE) lets the UI cancel, retry and delete
	// jobs and pause queues; by default it only reads.
	RiverUIWrite bool
}

func (r *reader) operator() Operator {
	o := Operator{
		Token:        r.str("OPERATOR_TOKEN", ""),
		RiverUIWrite: r.oneOf("RIVERUI_WRITE", "false", "true", "false") == "true",
	}
	if o.Token != "" && len(o.Token) < 16 {
		r.fail("OPERATOR_TOKEN", "must be at least 16 characters")
	}
	return o
}
