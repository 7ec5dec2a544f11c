package gateway

import (
	"net/http"
	"strings"
)

// unsupportedOperations are the Lambda API operations furl does not
// implement (yet). Each answers an error naming it, so that a tool using
// one learns why instead of getting a silent success or a 404.
var unsupportedOperations = []struct {
	name, method, path string
}{
	{"CheckpointDurableExecution", "POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint"},
	{"CreateCapacityProvider", "POST", "/2025-11-30/capacity-providers"},
	{"CreateCodeSigningConfig", "POST", "/2020-04-22/code-signing-configs"},
	{"CreateEventSourceMapping", "POST", "/2015-03-31/event-source-mappings"},
	{"DeleteCapacityProvider", "DELETE", "/2025-11-30/capacity-providers/{CapacityProviderName}"},
	{"DeleteCodeSigningConfig", "DELETE", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}"},
	{"DeleteEventSourceMapping", "DELETE", "/2015-03-31/event-source-mappings/{UUID}"},
	{"DeleteFunctionCodeSigningConfig", "DELETE", "/2020-06-30/functions/{FunctionName}/code-signing-config"},
	{"DeleteProvisionedConcurrencyConfig", "DELETE", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency"},
	{"GetCapacityProvider", "GET", "/2025-11-30/capacity-providers/{CapacityProviderName}"},
	{"GetCodeSigningConfig", "GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}"},
	{"GetDurableExecution", "GET", "/2025-12-01/durable-executions/{DurableExecutionArn}"},
	{"GetDurableExecutionHistory", "GET", "/2025-12-01/durable-executions/{DurableExecutionArn}/history"},
	{"GetDurableExecutionState", "GET", "/2025-12-01/durable-executions/{DurableExecutionArn}/state"},
	{"GetEventSourceMapping", "GET", "/2015-03-31/event-source-mappings/{UUID}"},
	{"GetFunctionScalingConfig", "GET", "/2025-11-30/functions/{FunctionName}/function-scaling-config"},
	{"GetProvisionedConcurrencyConfig", "GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency"},
	{"Invoke", "POST", "/2015-03-31/functions/{FunctionName}/invocations"}, // until an invoker is configured
	{"InvokeAsync", "POST", "/2014-11-13/functions/{FunctionName}/invoke-async"},
	{"InvokeWithResponseStream", "POST", "/2021-11-15/functions/{FunctionName}/response-streaming-invocations"}, // until an invoker is configured
	{"ListCapacityProviders", "GET", "/2025-11-30/capacity-providers"},
	{"ListCodeSigningConfigs", "GET", "/2020-04-22/code-signing-configs"},
	{"ListDurableExecutionsByFunction", "GET", "/2025-12-01/functions/{FunctionName}/durable-executions"},
	{"ListEventSourceMappings", "GET", "/2015-03-31/event-source-mappings"},
	{"ListFunctionVersionsByCapacityProvider", "GET", "/2025-11-30/capacity-providers/{CapacityProviderName}/function-versions"},
	{"ListFunctionsByCodeSigningConfig", "GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions"},
	{"ListProvisionedConcurrencyConfigs", "GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL"},
	{"PutFunctionCodeSigningConfig", "PUT", "/2020-06-30/functions/{FunctionName}/code-signing-config"},
	{"PutFunctionRecursionConfig", "PUT", "/2024-08-31/functions/{FunctionName}/recursion-config"},
	{"PutFunctionScalingConfig", "PUT", "/2025-11-30/functions/{FunctionName}/function-scaling-config"},
	{"PutProvisionedConcurrencyConfig", "PUT", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency"},
	{"PutRuntimeManagementConfig", "PUT", "/2021-07-20/functions/{FunctionName}/runtime-management-config"},
	{"SendDurableExecutionCallbackFailure", "POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/fail"},
	{"SendDurableExecutionCallbackHeartbeat", "POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat"},
	{"SendDurableExecutionCallbackSuccess", "POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed"},
	{"StopDurableExecution", "POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/stop"},
	{"UpdateCapacityProvider", "PUT", "/2025-11-30/capacity-providers/{CapacityProviderName}"},
	{"UpdateCodeSigningConfig", "PUT", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}"},
	{"UpdateEventSourceMapping", "PUT", "/2015-03-31/event-source-mappings/{UUID}"},
}

// unsupportedName names the operation a request to an unsupported route
// is, telling apart the operations that share a path by their query.
func unsupportedName(method, path string, r *http.Request) string {
	var fallback string
	for _, op := range unsupportedOperations {
		p, q, hasQuery := strings.Cut(op.path, "?")
		if op.method != method || p != path {
			continue
		}
		if !hasQuery {
			fallback = op.name
			continue
		}
		k, v, _ := strings.Cut(q, "=")
		if r.URL.Query().Get(k) == v {
			return op.name
		}
	}
	return fallback
}
