package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/furl-dev/furl/runtimeapi"
	"github.com/furl-dev/furl/urlconfig"
)

// Request body limits. Code uploads may carry a 50 MB zip in base64; AWS
// refuses requests over 70167211 bytes. Other operations carry small JSON.
const (
	maxCodeRequestBytes  = 70167211
	maxOtherRequestBytes = 6 * 1024 * 1024
)

// apiFunc is one Lambda API operation: it returns the success status and
// the body to encode as JSON (nil for none), or an error.
type apiFunc func(r *http.Request) (status int, body any, err error)

// operation is one route of the Lambda API.
type operation struct {
	name    string
	method  string
	path    string // a ServeMux pattern path; query-selected variants share one
	limit   int64  // request body limit
	handler apiFunc
}

// operations lists the Lambda API operations furl implements.
func (s *Server) operations() []operation {
	const fn = "/2015-03-31/functions/{FunctionName}"
	const urlPath = "/2021-10-31/functions/{FunctionName}/url"
	const eventConfig = "/2019-09-25/functions/{FunctionName}/event-invoke-config"
	ops := []operation{
		{"CreateFunction", "POST", "/2015-03-31/functions", maxCodeRequestBytes, s.createFunction},
		{"ListFunctions", "GET", "/2015-03-31/functions", 0, s.listFunctions},
		{"GetFunction", "GET", fn, 0, s.getFunction},
		{"DeleteFunction", "DELETE", fn, 0, s.deleteFunction},
		{"GetFunctionConfiguration", "GET", fn + "/configuration", 0, s.getFunctionConfiguration},
		{"UpdateFunctionConfiguration", "PUT", fn + "/configuration", maxOtherRequestBytes, s.updateFunctionConfiguration},
		{"UpdateFunctionCode", "PUT", fn + "/code", maxCodeRequestBytes, s.updateFunctionCode},
		{"PublishVersion", "POST", fn + "/versions", maxOtherRequestBytes, s.publishVersion},
		{"ListVersionsByFunction", "GET", fn + "/versions", 0, s.listVersions},
		{"CreateAlias", "POST", fn + "/aliases", maxOtherRequestBytes, s.createAlias},
		{"ListAliases", "GET", fn + "/aliases", 0, s.listAliases},
		{"GetAlias", "GET", fn + "/aliases/{Name}", 0, s.getAlias},
		{"UpdateAlias", "PUT", fn + "/aliases/{Name}", maxOtherRequestBytes, s.updateAlias},
		{"DeleteAlias", "DELETE", fn + "/aliases/{Name}", 0, s.deleteAlias},
		{"AddPermission", "POST", fn + "/policy", maxOtherRequestBytes, s.addPermission},
		{"GetPolicy", "GET", fn + "/policy", 0, s.getPolicy},
		{"RemovePermission", "DELETE", fn + "/policy/{StatementId}", 0, s.removePermission},
		{"CreateFunctionUrlConfig", "POST", urlPath, maxOtherRequestBytes, s.createURLConfig},
		{"GetFunctionUrlConfig", "GET", urlPath, 0, s.getURLConfig},
		{"UpdateFunctionUrlConfig", "PUT", urlPath, maxOtherRequestBytes, s.updateURLConfig},
		{"DeleteFunctionUrlConfig", "DELETE", urlPath, 0, s.deleteURLConfig},
		{"ListFunctionUrlConfigs", "GET", "/2021-10-31/functions/{FunctionName}/urls", 0, s.listURLConfigs},
		{"PutFunctionConcurrency", "PUT", "/2017-10-31/functions/{FunctionName}/concurrency", maxOtherRequestBytes, s.putConcurrency},
		{"GetFunctionConcurrency", "GET", "/2019-09-30/functions/{FunctionName}/concurrency", 0, s.getConcurrency},
		{"DeleteFunctionConcurrency", "DELETE", "/2017-10-31/functions/{FunctionName}/concurrency", 0, s.deleteConcurrency},
		{"GetAccountSettings", "GET", "/2016-08-19/account-settings", 0, s.getAccountSettings},
		{"PutFunctionEventInvokeConfig", "PUT", eventConfig, maxOtherRequestBytes, s.putEventInvokeConfig},
		{"UpdateFunctionEventInvokeConfig", "POST", eventConfig, maxOtherRequestBytes, s.updateEventInvokeConfig},
		{"GetFunctionEventInvokeConfig", "GET", eventConfig, 0, s.getEventInvokeConfig},
		{"DeleteFunctionEventInvokeConfig", "DELETE", eventConfig, 0, s.deleteEventInvokeConfig},
		{"ListFunctionEventInvokeConfigs", "GET", eventConfig + "/list", 0, s.listEventInvokeConfigs},
		{"GetFunctionCodeSigningConfig", "GET", "/2020-06-30/functions/{FunctionName}/code-signing-config", 0, s.getFunctionCodeSigningConfig},
		{"GetRuntimeManagementConfig", "GET", "/2021-07-20/functions/{FunctionName}/runtime-management-config", 0, s.getRuntimeManagementConfig},
		{"GetFunctionRecursionConfig", "GET", "/2024-08-31/functions/{FunctionName}/recursion-config", 0, s.getFunctionRecursionConfig},
		{"TagResource", "POST", "/2017-03-31/tags/{Resource}", maxOtherRequestBytes, s.tagResource},
		{"UntagResource", "DELETE", "/2017-03-31/tags/{Resource}", 0, s.untagResource},
		{"ListTags", "GET", "/2017-03-31/tags/{Resource}", 0, s.listTags},
	}
	return append(ops, s.layerOperations()...)
}

// serveAPI adapts an operation to HTTP: it bounds the body, runs the
// operation, and writes its JSON answer or its AWS error.
func (s *Server) serveAPI(op operation) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		log := loggerFrom(r.Context()).With("op", op.name)
		if err := s.authorizeOperation(r, op.name); err != nil {
			writeError(w, log, err)
			return
		}
		r.Body = &opBody{ReadCloser: r.Body, op: op.name, limit: op.limit}
		status, body, err := op.handler(r)
		if err != nil {
			writeError(w, log, err)
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	}
}

// writeJSON writes v as the JSON body. HTML characters stay as they are,
// as in AWS's answers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, slog.Default(), fmt.Errorf("encode answer: %w", err))
		return
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(status)
	w.Write(raw)
}

// opBody is a request body with the limit of its operation.
type opBody struct {
	io.ReadCloser
	op    string
	limit int64
}

// decode reads the request's JSON body into v. An empty body is an empty
// object. A body over the operation's limit is refused with AWS's
// RequestEntityTooLargeException; members of the wrong type and malformed
// JSON with InvalidRequestContentException. Unknown members are ignored, as
// AWS does.
func decode(r *http.Request, v any) error {
	body, ok := r.Body.(*opBody)
	if !ok {
		return fmt.Errorf("decode: request body of %T has no operation limit", r.Body)
	}
	raw, err := io.ReadAll(io.LimitReader(body, body.limit+1))
	if err != nil {
		return newError(urlconfig.ErrInvalidRequest, "Could not read the request body: "+err.Error())
	}
	if int64(len(raw)) > body.limit {
		return newError(urlconfig.ErrRequestTooLarge, fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", body.limit, body.op))
	}
	if err := unmarshalBody(raw, v); err != nil {
		return newError(urlconfig.ErrInvalidRequest, "Could not parse request body into json: "+describeJSONError(err))
	}
	return nil
}

// unmarshalBody decodes a whole request body into v; an empty body (white
// space only) is an empty object.
func unmarshalBody(raw []byte, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// describeJSONError says what is wrong with a request body and where.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s (at byte offset %d)", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("member %s must be %s, not a JSON %s (at byte offset %d)", field, jsonKind(typ.Type.Kind().String()), typ.Value, typ.Offset)
	default:
		return err.Error()
	}
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "a boolean"
	case goKind == "slice":
		return "a list (or, for a blob, base64 text)"
	case goKind == "map", goKind == "struct", goKind == "ptr":
		return "an object"
	}
	return "a " + goKind
}

// query returns a query parameter, or nil when it is absent.
func query(r *http.Request, name string) *string {
	q := r.URL.Query()
	if !q.Has(name) {
		return nil
	}
	v := q.Get(name)
	return &v
}

// queryInt returns an integer query parameter, or nil when it is absent.
func queryInt(r *http.Request, name, path string) (*int, error) {
	v := query(r, name)
	if v == nil {
		return nil, nil
	}
	n, err := strconv.Atoi(*v)
	if err != nil {
		return nil, newError(urlconfig.ErrValidation, fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", *v, path))
	}
	return &n, nil
}

func (s *Server) createFunction(r *http.Request) (int, any, error) {
	var in urlconfig.CreateFunctionInput
	upload, err := s.decodeCode(r, &in, "Code", "ZipFile")
	if err != nil {
		return 0, nil, err
	}
	defer upload.Close()
	// The upload takes the place of the empty placeholder the decoding
	// left, unless a later member (a null Code, say) took it first.
	if upload != nil && in.Code != nil && in.Code.ZipFile != nil {
		in.Code.ZipFile, in.Code.Upload = nil, upload
	}
	name := ""
	if in.FunctionName != nil {
		name = *in.FunctionName
	}
	if err := s.authorizeBody(r, "CreateFunction", name, nil); err != nil {
		return 0, nil, err
	}
	out, err := s.store.CreateFunction(r.Context(), &in)
	if err == nil {
		s.adviseRuntime(r.Context(), out)
	}
	return http.StatusCreated, out, err
}

// adviseRuntime warns when furl's sandbox would not run a function as its
// runtime names: better now, in the log of the call that set it, than as
// a puzzling first invocation.
func (s *Server) adviseRuntime(ctx context.Context, fn *urlconfig.FunctionConfiguration) {
	if s.advice == nil || fn == nil || fn.Runtime == "" {
		return
	}
	if advice := s.advice(fn.Runtime, fn.PackageType); advice != "" {
		s.log.WarnContext(ctx, "furl's sandbox will not run this function on the runtime it names", "function", fn.FunctionName, "runtime", fn.Runtime, "advice", advice)
	}
}

func (s *Server) listFunctions(r *http.Request) (int, any, error) {
	maxItems, err := queryInt(r, "MaxItems", "maxItems")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.ListFunctions(r.Context(), &urlconfig.ListFunctionsInput{
		MasterRegion:    query(r, "MasterRegion"),
		FunctionVersion: query(r, "FunctionVersion"),
		Marker:          query(r, "Marker"),
		MaxItems:        maxItems,
	})
	return http.StatusOK, out, err
}

func (s *Server) getFunction(r *http.Request) (int, any, error) {
	out, hash, err := s.store.GetFunction(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier"))
	if err != nil {
		return 0, nil, err
	}
	if hash != "" {
		// Only a zip has a location; an Image function's Code names its
		// image instead.
		out.Code.Location = s.codeLocation(r, hash)
	}
	return http.StatusOK, out, nil
}

func (s *Server) getFunctionConfiguration(r *http.Request) (int, any, error) {
	out, err := s.store.GetFunctionConfiguration(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier"))
	return http.StatusOK, out, err
}

func (s *Server) deleteFunction(r *http.Request) (int, any, error) {
	qualifier := query(r, "Qualifier")
	name, err := s.store.DeleteFunction(r.Context(), r.PathValue("FunctionName"), qualifier)
	if err == nil {
		s.retire(name)
		if qualifier == nil && s.observe != nil {
			// Its metrics and its recent events go with it.
			s.observe(runtimeapi.Event{Kind: runtimeapi.EventDeleted, Time: time.Now(), Function: name})
		}
	}
	return http.StatusNoContent, nil, err
}

// retire ends the environments of a function whose code or configuration
// changed; new invocations start fresh ones.
func (s *Server) retire(functionName string) {
	if s.invoker != nil {
		s.invoker.Retire(functionName)
	}
}

func (s *Server) updateFunctionConfiguration(r *http.Request) (int, any, error) {
	var in urlconfig.UpdateFunctionConfigurationInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.FunctionName = r.PathValue("FunctionName")
	out, err := s.store.UpdateFunctionConfiguration(r.Context(), &in)
	if err == nil {
		s.retire(out.FunctionName)
		s.adviseRuntime(r.Context(), out)
	}
	return http.StatusOK, out, err
}

func (s *Server) updateFunctionCode(r *http.Request) (int, any, error) {
	var in urlconfig.UpdateFunctionCodeInput
	upload, err := s.decodeCode(r, &in, "ZipFile")
	if err != nil {
		return 0, nil, err
	}
	defer upload.Close()
	// As in createFunction: the upload replaces the placeholder.
	if upload != nil && in.ZipFile != nil {
		in.ZipFile, in.Upload = nil, upload
	}
	in.FunctionName = r.PathValue("FunctionName")
	out, err := s.store.UpdateFunctionCode(r.Context(), &in)
	if err == nil && !in.DryRun {
		s.retire(out.FunctionName)
	}
	return http.StatusOK, out, err
}

func (s *Server) publishVersion(r *http.Request) (int, any, error) {
	var in urlconfig.PublishVersionInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.FunctionName = r.PathValue("FunctionName")
	out, err := s.store.PublishVersion(r.Context(), &in)
	return http.StatusCreated, out, err
}

func (s *Server) listVersions(r *http.Request) (int, any, error) {
	maxItems, err := queryInt(r, "MaxItems", "maxItems")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.ListVersionsByFunction(r.Context(), r.PathValue("FunctionName"), query(r, "Marker"), maxItems)
	return http.StatusOK, out, err
}

func (s *Server) createAlias(r *http.Request) (int, any, error) {
	var in urlconfig.CreateAliasInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.FunctionName = r.PathValue("FunctionName")
	out, err := s.store.CreateAlias(r.Context(), &in)
	return http.StatusCreated, out, err
}

func (s *Server) listAliases(r *http.Request) (int, any, error) {
	maxItems, err := queryInt(r, "MaxItems", "maxItems")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.ListAliases(r.Context(), r.PathValue("FunctionName"), query(r, "FunctionVersion"), query(r, "Marker"), maxItems)
	return http.StatusOK, out, err
}

func (s *Server) getAlias(r *http.Request) (int, any, error) {
	out, err := s.store.GetAlias(r.Context(), r.PathValue("FunctionName"), r.PathValue("Name"))
	return http.StatusOK, out, err
}

func (s *Server) updateAlias(r *http.Request) (int, any, error) {
	var in urlconfig.UpdateAliasInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.FunctionName, in.Name = r.PathValue("FunctionName"), r.PathValue("Name")
	out, err := s.store.UpdateAlias(r.Context(), &in)
	return http.StatusOK, out, err
}

func (s *Server) deleteAlias(r *http.Request) (int, any, error) {
	err := s.store.DeleteAlias(r.Context(), r.PathValue("FunctionName"), r.PathValue("Name"))
	return http.StatusNoContent, nil, err
}

func (s *Server) addPermission(r *http.Request) (int, any, error) {
	var in urlconfig.AddPermissionInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	keys := map[string][]string{}
	if in.Principal != nil {
		keys["lambda:Principal"] = []string{*in.Principal}
	}
	if in.FunctionUrlAuthType != nil {
		keys["lambda:FunctionUrlAuthType"] = []string{*in.FunctionUrlAuthType}
	}
	if err := s.authorizeBody(r, "AddPermission", r.PathValue("FunctionName"), keys); err != nil {
		return 0, nil, err
	}
	in.FunctionName, in.Qualifier = r.PathValue("FunctionName"), query(r, "Qualifier")
	statement, err := s.store.AddPermission(r.Context(), &in)
	return http.StatusCreated, map[string]string{"Statement": statement}, err
}

func (s *Server) getPolicy(r *http.Request) (int, any, error) {
	out, err := s.store.GetPolicy(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier"))
	return http.StatusOK, out, err
}

func (s *Server) removePermission(r *http.Request) (int, any, error) {
	err := s.store.RemovePermission(r.Context(), r.PathValue("FunctionName"), r.PathValue("StatementId"), query(r, "Qualifier"), query(r, "RevisionId"))
	return http.StatusNoContent, nil, err
}

func (s *Server) createURLConfig(r *http.Request) (int, any, error) {
	var in urlconfig.URLConfigInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := s.authorizeURLConfig(r, "CreateFunctionUrlConfig", in.AuthType); err != nil {
		return 0, nil, err
	}
	in.FunctionName, in.Qualifier = r.PathValue("FunctionName"), query(r, "Qualifier")
	out, err := s.store.CreateFunctionURLConfig(r.Context(), &in)
	return http.StatusCreated, out, err
}

func (s *Server) getURLConfig(r *http.Request) (int, any, error) {
	out, err := s.store.GetFunctionURLConfig(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier"))
	return http.StatusOK, out, err
}

func (s *Server) updateURLConfig(r *http.Request) (int, any, error) {
	var in urlconfig.URLConfigInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := s.authorizeURLConfig(r, "UpdateFunctionUrlConfig", in.AuthType); err != nil {
		return 0, nil, err
	}
	in.FunctionName, in.Qualifier = r.PathValue("FunctionName"), query(r, "Qualifier")
	out, err := s.store.UpdateFunctionURLConfig(r.Context(), &in)
	return http.StatusOK, out, err
}

func (s *Server) deleteURLConfig(r *http.Request) (int, any, error) {
	err := s.store.DeleteFunctionURLConfig(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier"))
	return http.StatusNoContent, nil, err
}

func (s *Server) listURLConfigs(r *http.Request) (int, any, error) {
	maxItems, err := queryInt(r, "MaxItems", "maxItems")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.ListFunctionURLConfigs(r.Context(), r.PathValue("FunctionName"), query(r, "Marker"), maxItems)
	return http.StatusOK, out, err
}

func (s *Server) putConcurrency(r *http.Request) (int, any, error) {
	var in urlconfig.PutFunctionConcurrencyInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.FunctionName = r.PathValue("FunctionName")
	out, err := s.store.PutFunctionConcurrency(r.Context(), &in)
	return http.StatusOK, out, err
}

func (s *Server) getConcurrency(r *http.Request) (int, any, error) {
	out, err := s.store.GetFunctionConcurrency(r.Context(), r.PathValue("FunctionName"))
	return http.StatusOK, out, err
}

func (s *Server) deleteConcurrency(r *http.Request) (int, any, error) {
	err := s.store.DeleteFunctionConcurrency(r.Context(), r.PathValue("FunctionName"))
	return http.StatusNoContent, nil, err
}

func (s *Server) getAccountSettings(r *http.Request) (int, any, error) {
	out, err := s.store.GetAccountSettings(r.Context())
	return http.StatusOK, out, err
}

func (s *Server) tagResource(r *http.Request) (int, any, error) {
	var in urlconfig.TagResourceInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.Resource = r.PathValue("Resource")
	return http.StatusNoContent, nil, s.store.TagResource(r.Context(), &in)
}

func (s *Server) untagResource(r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, s.store.UntagResource(r.Context(), r.PathValue("Resource"), r.URL.Query()["tagKeys"])
}

func (s *Server) listTags(r *http.Request) (int, any, error) {
	out, err := s.store.ListTags(r.Context(), r.PathValue("Resource"))
	return http.StatusOK, out, err
}

func (s *Server) putEventInvokeConfig(r *http.Request) (int, any, error) {
	var in urlconfig.EventInvokeConfigInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.FunctionName, in.Qualifier = r.PathValue("FunctionName"), query(r, "Qualifier")
	out, err := s.store.PutFunctionEventInvokeConfig(r.Context(), &in)
	return http.StatusOK, out, err
}

func (s *Server) updateEventInvokeConfig(r *http.Request) (int, any, error) {
	var in urlconfig.EventInvokeConfigInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	in.FunctionName, in.Qualifier = r.PathValue("FunctionName"), query(r, "Qualifier")
	out, err := s.store.UpdateFunctionEventInvokeConfig(r.Context(), &in)
	return http.StatusOK, out, err
}

func (s *Server) getEventInvokeConfig(r *http.Request) (int, any, error) {
	out, err := s.store.GetFunctionEventInvokeConfig(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier"))
	return http.StatusOK, out, err
}

func (s *Server) deleteEventInvokeConfig(r *http.Request) (int, any, error) {
	err := s.store.DeleteFunctionEventInvokeConfig(r.Context(), r.PathValue("FunctionName"), query(r, "Qualifier"))
	return http.StatusNoContent, nil, err
}

func (s *Server) listEventInvokeConfigs(r *http.Request) (int, any, error) {
	maxItems, err := queryInt(r, "MaxItems", "maxItems")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.store.ListFunctionEventInvokeConfigs(r.Context(), r.PathValue("FunctionName"), query(r, "Marker"), maxItems)
	return http.StatusOK, out, err
}
