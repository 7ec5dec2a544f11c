package gateway

import (
	"net/http"
	"strings"
)

// The operations here read settings furl does not emulate: code signing,
// runtime version management and recursive loop detection. Tools that
// manage a function as a whole (Terraform's AWS provider reads all three
// after every create and on every refresh) need AWS's answer for a
// function that never set them, so furl gives that answer for every
// function that exists and AWS's ResourceNotFoundException for one that
// does not. Setting them stays unsupported (unsupported.go): a tool that
// asks for code signing or a pinned runtime learns that furl cannot honour
// it, rather than being told it was done.

// functionCodeSigningConfig is GetFunctionCodeSigningConfig's answer.
type functionCodeSigningConfig struct {
	// CodeSigningConfigArn is empty: AWS sends the member, empty, for a
	// function without a code signing configuration.
	CodeSigningConfigArn string `json:"CodeSigningConfigArn"`
	FunctionName         string `json:"FunctionName"`
}

// runtimeManagementConfig is GetRuntimeManagementConfig's answer.
type runtimeManagementConfig struct {
	// UpdateRuntimeOn is "Auto", AWS's default.
	UpdateRuntimeOn string `json:"UpdateRuntimeOn"`
	// RuntimeVersionArn is set only in the Manual mode, which furl does
	// not offer; AWS leaves it out otherwise.
	RuntimeVersionArn string `json:"RuntimeVersionArn,omitempty"`
	// FunctionArn names the version the configuration is for.
	FunctionArn string `json:"FunctionArn"`
}

// functionRecursionConfig is GetFunctionRecursionConfig's answer.
type functionRecursionConfig struct {
	// RecursiveLoop is "Terminate", AWS's default.
	RecursiveLoop string `json:"RecursiveLoop"`
}

func (s *Server) getFunctionCodeSigningConfig(r *http.Request) (int, any, error) {
	cfg, err := s.store.GetFunctionConfiguration(r.Context(), r.PathValue("FunctionName"), nil)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, functionCodeSigningConfig{FunctionName: cfg.FunctionName}, nil
}

func (s *Server) getRuntimeManagementConfig(r *http.Request) (int, any, error) {
	cfg, err := s.store.GetFunctionConfiguration(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier"))
	if err != nil {
		return 0, nil, err
	}
	// The configuration is a version's, so the ARN names the version,
	// $LATEST too (an alias resolves to its version).
	parts := strings.SplitN(cfg.FunctionArn, ":", 8)
	arn := strings.Join(parts[:min(len(parts), 7)], ":") + ":" + cfg.Version
	return http.StatusOK, runtimeManagementConfig{UpdateRuntimeOn: "Auto", FunctionArn: arn}, nil
}

func (s *Server) getFunctionRecursionConfig(r *http.Request) (int, any, error) {
	if _, err := s.store.GetFunctionConfiguration(r.Context(), r.PathValue("FunctionName"), nil); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, functionRecursionConfig{RecursiveLoop: "Terminate"}, nil
}
