package function

import (
	"io"
	"log/slog"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// traceKey is the field Cloud Logging reads a log entry's trace from.
const traceKey = "logging.googleapis.com/trace"

// NewLogger logs JSON lines that Cloud Logging reads as structured
// entries: severity, message and timestamp under the names it expects.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				level := a.Value.Any().(slog.Level)
				sev := "DEFAULT"
				switch {
				case level >= slog.LevelError:
					sev = "ERROR"
				case level >= slog.LevelWarn:
					sev = "WARNING"
				case level >= slog.LevelInfo:
					sev = "INFO"
				default:
					sev = "DEBUG"
				}
				return slog.String("severity", sev)
			case slog.MessageKey:
				return slog.String("message", a.Value.String())
			case slog.TimeKey:
				return slog.Attr{Key: "timestamp", Value: a.Value}
			}
			return a
		},
	}))
}

// traceOf reads a W3C traceparent extension of the event into the Cloud
// Logging trace name, projects/P/traces/T; "" when there is none.
func traceOf(e event.Event, getenv func(string) string) string {
	tp, _ := e.Extensions()["traceparent"].(string)
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	project := getenv("GOOGLE_CLOUD_PROJECT")
	if project == "" {
		project = projectOfTopic(getenv(EnvRequestTopic))
	}
	if project == "" {
		return ""
	}
	return "projects/" + project + "/traces/" + parts[1]
}
