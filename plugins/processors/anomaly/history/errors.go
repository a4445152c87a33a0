package history

import (
	"fmt"
	"strings"
)

// Reason says in one word why the history of a series could not be read:
// the processor counts failures by it and logs one line per reason.
type Reason string

// The reasons of an Error.
const (
	// ReasonTimeout: no complete answer within timeout.
	ReasonTimeout Reason = "timeout"
	// ReasonConnection: no connection to the server, or it broke mid-answer.
	ReasonConnection Reason = "connection"
	// ReasonAuth: HTTP 401 or 403, credentials refused or no read permission.
	ReasonAuth Reason = "auth"
	// ReasonHTTPStatus: another HTTP status than 200.
	ReasonHTTPStatus Reason = "http_status"
	// ReasonDecode: the answer is not InfluxDB's JSON, or it ends early.
	ReasonDecode Reason = "decode"
	// ReasonQuery: InfluxDB answered the statement with an error (database
	// or retention policy not found, a limit of the server exceeded).
	ReasonQuery Reason = "query"
	// ReasonCanceled: the caller stopped waiting (the processor stops).
	ReasonCanceled Reason = "canceled"
	// ReasonUnqueryable: the measurement, a tag or the field is not valid
	// UTF-8 or holds a carriage return, which InfluxQL cannot name; no
	// query was sent.
	ReasonUnqueryable Reason = "unqueryable"
)

// Error is why the history of a series could not be read, and where.
type Error struct {
	Reason Reason
	// URL is the /query endpoint asked last, without credentials; empty
	// when no query was sent.
	URL string
	// Status is the HTTP status of the answer, 0 when there was none.
	Status int
	// Message says what went wrong, with InfluxDB's own error text when it
	// sent one.
	Message string
	// Attempts is how many urls were tried, each once.
	Attempts int
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("history: ")
	if e.URL != "" {
		fmt.Fprintf(&b, "query %s", e.URL)
		if e.Attempts > 1 {
			fmt.Fprintf(&b, " (the last of %d urls tried)", e.Attempts)
		}
		b.WriteString(": ")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
	}
	b.WriteString(string(e.Reason))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
