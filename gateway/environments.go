package gateway

import (
	"net/http"

	"github.com/furl-dev/furl/runtimeapi"
)

// environmentLister is an Invoker that can list its live environments.
type environmentLister interface {
	Environments() []runtimeapi.EnvironmentInfo
}

// environments answers GET /_furl/environments: the live execution
// environments, each with the sandbox it runs in ("process" or "docker")
// and its state. It is furl's own view, not a Lambda API; it needs what
// ListFunctions needs, since it names functions.
func (s *Server) environments(w http.ResponseWriter, r *http.Request) {
	envs := []runtimeapi.EnvironmentInfo{}
	if l, ok := s.invoker.(environmentLister); ok {
		envs = append(envs, l.Environments()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"Environments": envs})
}
