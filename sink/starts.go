package sink

import (
	"net/http"
	"strings"
)

// getStarts serves GET /starts: every span that arrived as an in-progress
// item (no end_timestamp) in a successful request, even if its end
// replaced it later, as {"<trace_id>/<id>": times received}. It lets a test
// say that no start other than the expected ones ever reached the receiver.
func (s *Server) getStarts(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make(map[string]int64, len(s.starts))
	for k, n := range s.starts {
		trace, id, _ := strings.Cut(k, "\x00")
		out[trace+"/"+id] = n
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
