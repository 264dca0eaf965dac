package meeting

// Request field names the errors refer to, exported so the HTTP layer reports
// errors against the same names the messages use.
const (
	URLField      = "meeting_url"
	PlatformField = "meeting_platform"
)

// URLError explains why a meeting URL was rejected. Reason is a plain-English
// phrase for end users without the field name, so the HTTP layer can attach
// it to URLField; Error adds the field name for logs.
type URLError struct {
	Reason string
}

func (e *URLError) Error() string { return URLField + ": " + e.Reason }

// PlatformError explains why a declared platform was rejected; see URLError.
type PlatformError struct {
	Reason string
}

func (e *PlatformError) Error() string { return PlatformField + ": " + e.Reason }
