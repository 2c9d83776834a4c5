package serve

import (
	_ "embed"
	"net/http"
)

//go:embed web/index.html
var pageHTML []byte

// page serves the chat page that shows answers being denoised.
func (s *Server) page(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(pageHTML)
	return nil
}
