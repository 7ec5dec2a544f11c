package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// urlIDPattern is the shape of every url-id seen on AWS.
var urlIDPattern = regexp.MustCompile(`^[a-z2-7]{25}[aeimquy4]0[a-z]{5}$`)

func TestFunctionURLConfigs(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createFunction(t, c, "web")
	fn := aws.String("web")
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:web"

	created, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig: %v", err)
	}
	port := f.addr[strings.LastIndex(f.addr, ":")+1:]
	m := regexp.MustCompile(`^http://([a-z0-9]+)\.lambda-url\.us-east-1\.localhost:` + port + `/$`).FindStringSubmatch(aws.ToString(created.FunctionUrl))
	if m == nil || !urlIDPattern.MatchString(m[1]) {
		t.Fatalf("FunctionUrl %q is not http://<url-id>.lambda-url.us-east-1.localhost:%s/", aws.ToString(created.FunctionUrl), port)
	}
	if aws.ToString(created.FunctionArn) != arn || created.AuthType != types.FunctionUrlAuthTypeNone || created.Cors != nil || created.InvokeMode != "" {
		t.Fatalf("Create answered %s", jsonOf(created))
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`).MatchString(aws.ToString(created.CreationTime)) {
		t.Errorf("CreationTime %q is not in AWS's format", aws.ToString(created.CreationTime))
	}

	_, err = c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, AuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "ResourceConflictException", "Failed to create function url config for [functionArn = "+arn+"]. Error message:  FunctionUrlConfig exists for this Lambda function")

	got, err := c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: fn})
	if err != nil {
		t.Fatalf("GetFunctionUrlConfig: %v", err)
	}
	if aws.ToString(got.FunctionUrl) != aws.ToString(created.FunctionUrl) || got.InvokeMode != types.InvokeModeBuffered ||
		aws.ToString(got.LastModifiedTime) != aws.ToString(created.CreationTime) {
		t.Fatalf("Get answered %s", jsonOf(got))
	}

	updated, err := c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{
		FunctionName: fn,
		AuthType:     types.FunctionUrlAuthTypeAwsIam,
		InvokeMode:   types.InvokeModeResponseStream,
		Cors: &types.Cors{
			AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"},
			AllowHeaders: []string{"content-type"}, MaxAge: aws.Int32(600), AllowCredentials: aws.Bool(true),
		},
	})
	if err != nil {
		t.Fatalf("UpdateFunctionUrlConfig: %v", err)
	}
	if aws.ToString(updated.FunctionUrl) != aws.ToString(created.FunctionUrl) || updated.AuthType != types.FunctionUrlAuthTypeAwsIam ||
		updated.InvokeMode != types.InvokeModeResponseStream || aws.ToInt32(updated.Cors.MaxAge) != 600 || !aws.ToBool(updated.Cors.AllowCredentials) {
		t.Fatalf("Update answered %s", jsonOf(updated))
	}
	// An update that names nothing keeps everything but LastModifiedTime.
	kept, err := c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{FunctionName: fn})
	if err != nil {
		t.Fatal(err)
	}
	if kept.AuthType != types.FunctionUrlAuthTypeAwsIam || kept.InvokeMode != types.InvokeModeResponseStream || len(kept.Cors.AllowOrigins) != 1 {
		t.Fatalf("empty update changed the config: %s", jsonOf(kept))
	}

	// Qualifiers: an alias gets its own URL; a version or explicit $LATEST is refused.
	if _, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: fn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	onAlias, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, Qualifier: aws.String("prod"), AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeBuffered})
	if err != nil {
		t.Fatalf("URL on an alias: %v", err)
	}
	if aws.ToString(onAlias.FunctionArn) != arn+":prod" || aws.ToString(onAlias.FunctionUrl) == aws.ToString(created.FunctionUrl) || onAlias.InvokeMode != types.InvokeModeBuffered {
		t.Fatalf("URL on an alias answered %s", jsonOf(onAlias))
	}
	for _, q := range []string{"1", "$LATEST"} {
		_, err = c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, Qualifier: aws.String(q), AuthType: types.FunctionUrlAuthTypeNone})
		apiErr(t, err, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)", q))
	}
	_, err = c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web:prod"), Qualifier: aws.String("other"), AuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier.")
	_, err = c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, Qualifier: aws.String("nope"), AuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "ResourceNotFoundException", "Function does not exist")
	_, err = c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: fn, Qualifier: aws.String("nope")})
	apiErr(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("ghost"), AuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "ResourceNotFoundException", "Function does not exist")
	_, err = c.ListFunctionUrlConfigs(ctx(t), &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("ghost")})
	apiErr(t, err, "ResourceNotFoundException", "Function does not exist")

	// CORS limits.
	_, err = c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{FunctionName: fn, Cors: &types.Cors{AllowMethods: []string{"GET", "POST", "OPTIONS"}}})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value '[GET, POST, OPTIONS]' at 'cors.allowMethods' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 6, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: .*, Member must not be null]")
	_, err = c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{FunctionName: fn, Cors: &types.Cors{MaxAge: aws.Int32(86401)}})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400")
	_, err = c.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{FunctionName: fn, InvokeMode: "UNKNOWN"})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")

	list, err := c.ListFunctionUrlConfigs(ctx(t), &lambda.ListFunctionUrlConfigsInput{FunctionName: fn})
	if err != nil {
		t.Fatalf("ListFunctionUrlConfigs: %v", err)
	}
	if len(list.FunctionUrlConfigs) != 2 || aws.ToString(list.FunctionUrlConfigs[0].FunctionArn) != arn || aws.ToString(list.FunctionUrlConfigs[1].FunctionArn) != arn+":prod" {
		t.Fatalf("List answered %s", jsonOf(list))
	}
	page, err := c.ListFunctionUrlConfigs(ctx(t), &lambda.ListFunctionUrlConfigsInput{FunctionName: fn, MaxItems: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := c.ListFunctionUrlConfigs(ctx(t), &lambda.ListFunctionUrlConfigsInput{FunctionName: fn, Marker: page.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.FunctionUrlConfigs) != 1 || len(rest.FunctionUrlConfigs) != 1 || rest.NextMarker != nil ||
		aws.ToString(rest.FunctionUrlConfigs[0].FunctionArn) != arn+":prod" {
		t.Fatalf("pages: %s then %s", jsonOf(page), jsonOf(rest))
	}

	// Deleting without a qualifier deletes only the $LATEST URL; deleting
	// the alias deletes its URL.
	if _, err := c.DeleteFunctionUrlConfig(ctx(t), &lambda.DeleteFunctionUrlConfigInput{FunctionName: fn}); err != nil {
		t.Fatalf("DeleteFunctionUrlConfig: %v", err)
	}
	_, err = c.DeleteFunctionUrlConfig(ctx(t), &lambda.DeleteFunctionUrlConfigInput{FunctionName: fn})
	apiErr(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	if _, err := c.GetFunctionUrlConfig(ctx(t), &lambda.GetFunctionUrlConfigInput{FunctionName: fn, Qualifier: aws.String("prod")}); err != nil {
		t.Fatalf("the alias URL went with the $LATEST one: %v", err)
	}
	if _, err := c.DeleteAlias(ctx(t), &lambda.DeleteAliasInput{FunctionName: fn, Name: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	list, err = c.ListFunctionUrlConfigs(ctx(t), &lambda.ListFunctionUrlConfigsInput{FunctionName: fn})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.FunctionUrlConfigs) != 0 {
		t.Fatalf("URL of a deleted alias remains: %s", jsonOf(list))
	}
	// A new URL gets a new id.
	again, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.FunctionUrl) == aws.ToString(created.FunctionUrl) {
		t.Fatalf("a recreated URL config reused the id %s", aws.ToString(again.FunctionUrl))
	}
}

func TestPermissions(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createFunction(t, c, "pub")
	fn := aws.String("pub")
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:pub"

	cases := []struct {
		in   lambda.AddPermissionInput
		want string
	}{{
		lambda.AddPermissionInput{StatementId: aws.String("FunctionURLAllowPublicAccess"), Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone},
		`{"Sid":"FunctionURLAllowPublicAccess","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"` + arn + `","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}`,
	}, {
		lambda.AddPermissionInput{StatementId: aws.String("FunctionURLInvokeAllowPublicAccess"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), InvokedViaFunctionUrl: aws.Bool(true)},
		`{"Sid":"FunctionURLInvokeAllowPublicAccess","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"` + arn + `","Condition":{"Bool":{"lambda:InvokedViaFunctionUrl":"true"}}}`,
	}, {
		lambda.AddPermissionInput{StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"), SourceArn: aws.String("arn:aws:s3:::uploads"), SourceAccount: aws.String("123456789012")},
		`{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + arn + `","Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::uploads"}}}`,
	}, {
		lambda.AddPermissionInput{StatementId: aws.String("acct"), Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("123456789012"), FunctionUrlAuthType: types.FunctionUrlAuthTypeAwsIam, PrincipalOrgID: aws.String("o-abcdefghij")},
		`{"Sid":"acct","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"lambda:InvokeFunctionUrl","Resource":"` + arn + `","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"AWS_IAM","aws:PrincipalOrgID":"o-abcdefghij"}}}`,
	}}
	var statements []string
	for _, tc := range cases {
		in := tc.in
		in.FunctionName = fn
		out, err := c.AddPermission(ctx(t), &in)
		if err != nil {
			t.Fatalf("AddPermission %s: %v", aws.ToString(in.StatementId), err)
		}
		if aws.ToString(out.Statement) != tc.want {
			t.Errorf("AddPermission %s:\n got %s\nwant %s", aws.ToString(in.StatementId), aws.ToString(out.Statement), tc.want)
		}
		statements = append(statements, tc.want)
	}
	policy, err := c.GetPolicy(ctx(t), &lambda.GetPolicyInput{FunctionName: fn})
	if err != nil {
		t.Fatalf("GetPolicy: %v", err)
	}
	want := `{"Version":"2012-10-17","Id":"default","Statement":[` + strings.Join(statements, ",") + `]}`
	if aws.ToString(policy.Policy) != want {
		t.Fatalf("GetPolicy:\n got %s\nwant %s", aws.ToString(policy.Policy), want)
	}
	if !json.Valid([]byte(aws.ToString(policy.Policy))) {
		t.Fatal("policy is not JSON")
	}

	_, err = c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("sns.amazonaws.com")})
	apiErr(t, err, "ResourceConflictException", "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.")
	_, err = c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("invalid.nonaws.com")})
	apiErr(t, err, "InvalidParameterValueException", "The provided principal was invalid. Please check the principal and try again.")
	_, err = c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "InvalidParameterValueException", "FunctionUrlAuthType is only supported for lambda:InvokeFunctionUrl action")
	_, err = c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), RevisionId: aws.String("stale")})
	apiErr(t, err, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
	_, err = c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: aws.String("ghost"), StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost")
	_, err = c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, Qualifier: aws.String("42"), StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: "+arn+":42")
	_, err = c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("bad.sid"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value 'bad.sid' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")

	// The policy's own RevisionId is accepted, and each change makes a new one.
	if _, err := c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("sns"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("sns.amazonaws.com"), RevisionId: policy.RevisionId}); err != nil {
		t.Fatalf("AddPermission with the policy's RevisionId: %v", err)
	}

	// Policies belong to one qualifier each.
	if _, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: fn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPolicy(ctx(t), &lambda.GetPolicyInput{FunctionName: fn, Qualifier: aws.String("1")})
	apiErr(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	v1, err := c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, Qualifier: aws.String("1"), StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
	if err != nil {
		t.Fatalf("AddPermission on version 1: %v", err)
	}
	mustContain(t, aws.ToString(v1.Statement), `"Resource":"`+arn+`:1"`)

	_, err = c.RemovePermission(ctx(t), &lambda.RemovePermissionInput{FunctionName: fn, StatementId: aws.String("nope")})
	apiErr(t, err, "ResourceNotFoundException", "Statement nope is not found in resource policy.")
	for _, sid := range []string{"FunctionURLAllowPublicAccess", "FunctionURLInvokeAllowPublicAccess", "s3", "acct", "sns"} {
		if _, err := c.RemovePermission(ctx(t), &lambda.RemovePermissionInput{FunctionName: fn, StatementId: aws.String(sid)}); err != nil {
			t.Fatalf("RemovePermission %s: %v", sid, err)
		}
	}
	_, err = c.GetPolicy(ctx(t), &lambda.GetPolicyInput{FunctionName: fn})
	apiErr(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = c.RemovePermission(ctx(t), &lambda.RemovePermissionInput{FunctionName: fn, StatementId: aws.String("s3")})
	apiErr(t, err, "ResourceNotFoundException", "No policy is associated with the given resource.")
	if _, err := c.GetPolicy(ctx(t), &lambda.GetPolicyInput{FunctionName: fn, Qualifier: aws.String("1")}); err != nil {
		t.Fatalf("version 1's policy went with the function's: %v", err)
	}
}

func TestConcurrencyAndAccountSettings(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0", "--account-concurrency", "150")
	c := f.client()
	createFunction(t, c, "one")
	createFunction(t, c, "two")

	got, err := c.GetFunctionConcurrency(ctx(t), &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("one")})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Fatalf("GetFunctionConcurrency before any = %v, %v", got, err)
	}
	put, err := c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("one"), ReservedConcurrentExecutions: aws.Int32(30)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 30 {
		t.Fatalf("PutFunctionConcurrency = %v, %v", put, err)
	}
	// 150 - 30 - 21 = 99 leaves less than 100 unreserved.
	_, err = c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("two"), ReservedConcurrentExecutions: aws.Int32(21)})
	apiErr(t, err, "InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
	if _, err := c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("two"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatalf("reserving 0 must always work: %v", err)
	}
	_, err = c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("one:$LATEST"), ReservedConcurrentExecutions: aws.Int32(1)})
	apiErr(t, err, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	_, err = c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("ghost"), ReservedConcurrentExecutions: aws.Int32(1)})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost:$LATEST")

	fnOut, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("one")})
	if err != nil {
		t.Fatal(err)
	}
	if fnOut.Concurrency == nil || aws.ToInt32(fnOut.Concurrency.ReservedConcurrentExecutions) != 30 {
		t.Fatalf("GetFunction Concurrency = %s", jsonOf(fnOut.Concurrency))
	}
	settings, err := c.GetAccountSettings(ctx(t), &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatalf("GetAccountSettings: %v", err)
	}
	if settings.AccountLimit.ConcurrentExecutions != 150 || aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != 120 ||
		settings.AccountUsage.FunctionCount != 2 || settings.AccountLimit.CodeSizeZipped != 52428800 || settings.AccountLimit.CodeSizeUnzipped != 262144000 {
		t.Fatalf("GetAccountSettings = %s", jsonOf(settings))
	}
	if _, err := c.DeleteFunctionConcurrency(ctx(t), &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("one")}); err != nil {
		t.Fatalf("DeleteFunctionConcurrency: %v", err)
	}
	got, err = c.GetFunctionConcurrency(ctx(t), &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("one")})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Fatalf("after delete: %v, %v", got, err)
	}
	settings, err = c.GetAccountSettings(ctx(t), &lambda.GetAccountSettingsInput{})
	if err != nil || aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != 150 {
		t.Fatalf("after delete: %s, %v", jsonOf(settings), err)
	}
}
