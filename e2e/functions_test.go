package e2e

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestFunctionLifecycle(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	code := nodeZip(t, "v1")

	created, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("orders"),
		Runtime:      types.RuntimeNodejs20x,
		Role:         aws.String(testRole),
		Handler:      aws.String("index.handler"),
		Code:         &types.FunctionCode{ZipFile: code},
		Description:  aws.String("takes orders"),
		Environment:  &types.Environment{Variables: map[string]string{"STAGE": "test"}},
		Tags:         map[string]string{"team": "shop"},
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if got, want := aws.ToString(created.FunctionArn), "arn:aws:lambda:us-east-1:000000000000:function:orders"; got != want {
		t.Errorf("FunctionArn = %s, want %s", got, want)
	}
	if created.State != types.StatePending || created.StateReasonCode != types.StateReasonCodeCreating || created.LastUpdateStatus != "" {
		t.Errorf("create answered State=%s/%s LastUpdateStatus=%q, want Pending/Creating and none", created.State, created.StateReasonCode, created.LastUpdateStatus)
	}
	if aws.ToString(created.CodeSha256) != codeSha256(code) || created.CodeSize != int64(len(code)) {
		t.Errorf("CodeSha256/CodeSize = %s/%d, want %s/%d", aws.ToString(created.CodeSha256), created.CodeSize, codeSha256(code), len(code))
	}
	if aws.ToInt32(created.Timeout) != 3 || aws.ToInt32(created.MemorySize) != 128 || created.PackageType != types.PackageTypeZip ||
		len(created.Architectures) != 1 || created.Architectures[0] != types.ArchitectureX8664 ||
		aws.ToInt32(created.EphemeralStorage.Size) != 512 || created.TracingConfig.Mode != types.TracingModePassThrough ||
		aws.ToString(created.LoggingConfig.LogGroup) != "/aws/lambda/orders" || aws.ToString(created.Version) != "$LATEST" {
		t.Errorf("defaults wrong: %s", jsonOf(created))
	}

	got, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("orders")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if got.Configuration.State != types.StateActive || got.Configuration.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("GetFunction State=%s LastUpdateStatus=%s, want Active/Successful", got.Configuration.State, got.Configuration.LastUpdateStatus)
	}
	if got.Tags["team"] != "shop" || got.Concurrency != nil {
		t.Errorf("GetFunction Tags=%v Concurrency=%v", got.Tags, got.Concurrency)
	}
	if aws.ToString(got.Code.RepositoryType) != "S3" {
		t.Errorf("RepositoryType = %s", aws.ToString(got.Code.RepositoryType))
	}
	resp, err := http.Get(aws.ToString(got.Code.Location))
	if err != nil {
		t.Fatalf("download code: %v", err)
	}
	downloaded, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(downloaded, code) {
		t.Fatalf("Code.Location gave %d and %d bytes, want the %d bytes uploaded", resp.StatusCode, len(downloaded), len(code))
	}

	cfg, err := c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("orders")})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration: %v", err)
	}
	if aws.ToString(cfg.RevisionId) != aws.ToString(got.Configuration.RevisionId) || cfg.Environment.Variables["STAGE"] != "test" {
		t.Errorf("GetFunctionConfiguration disagrees with GetFunction: %s", jsonOf(cfg))
	}

	// A stale RevisionId is refused and changes nothing.
	_, err = c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("orders"), Timeout: aws.Int32(30), RevisionId: aws.String("not-the-revision"),
	})
	apiErr(t, err, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

	updated, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("orders"),
		Timeout:      aws.Int32(30),
		MemorySize:   aws.Int32(512),
		Environment:  &types.Environment{Variables: map[string]string{"STAGE": "prod", "DEBUG": "1"}},
		RevisionId:   cfg.RevisionId,
	})
	if err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	if updated.LastUpdateStatus != types.LastUpdateStatusInProgress || aws.ToString(updated.RevisionId) == aws.ToString(cfg.RevisionId) ||
		aws.ToInt32(updated.Timeout) != 30 || aws.ToInt32(updated.MemorySize) != 512 || updated.Environment.Variables["STAGE"] != "prod" {
		t.Errorf("UpdateFunctionConfiguration answered %s", jsonOf(updated))
	}
	if aws.ToString(updated.Description) != "takes orders" {
		t.Errorf("an update without Description lost it: %q", aws.ToString(updated.Description))
	}

	code2 := nodeZip(t, "v2")
	updatedCode, err := c.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("orders"), ZipFile: code2})
	if err != nil {
		t.Fatalf("UpdateFunctionCode: %v", err)
	}
	if aws.ToString(updatedCode.CodeSha256) != codeSha256(code2) || aws.ToInt32(updatedCode.Timeout) != 30 {
		t.Errorf("UpdateFunctionCode answered %s", jsonOf(updatedCode))
	}
	// A dry run validates but stores nothing.
	dry, err := c.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("orders"), ZipFile: code, DryRun: true})
	if err != nil {
		t.Fatalf("UpdateFunctionCode DryRun: %v", err)
	}
	if aws.ToString(dry.CodeSha256) != codeSha256(code) {
		t.Errorf("dry run answered CodeSha256 %s", aws.ToString(dry.CodeSha256))
	}
	after, err := c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.CodeSha256) != codeSha256(code2) {
		t.Errorf("dry run changed the code to %s", aws.ToString(after.CodeSha256))
	}

	// The first code is no longer referenced: it is gone already.
	resp, err = http.Get(aws.ToString(got.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("replaced code still downloads: %d", resp.StatusCode)
	}
	current, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if files := codeFiles(t, f); len(files) != 1 {
		t.Fatalf("code store holds %v, want only the current code", files)
	}

	if _, err := c.DeleteFunction(ctx(t), &lambda.DeleteFunctionInput{FunctionName: aws.String("orders")}); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	_, err = c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("orders")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:orders")
	resp, err = http.Get(aws.ToString(current.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("code of a deleted function still downloads: %d", resp.StatusCode)
	}
	if files := codeFiles(t, f); len(files) != 0 {
		t.Fatalf("code store still holds %v after the only function was deleted", files)
	}
}

func TestListFunctionsPaginates(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	names := []string{"a-fn", "b-fn", "c-fn", "d-fn", "e-fn"}
	for _, n := range names {
		createFunction(t, c, n)
	}
	if _, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: aws.String("c-fn")}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	pager := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{MaxItems: aws.Int32(2)})
	pages := 0
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("ListFunctions: %v", err)
		}
		pages++
		if len(page.Functions) > 2 {
			t.Fatalf("page of %d items with MaxItems 2", len(page.Functions))
		}
		for _, fn := range page.Functions {
			seen = append(seen, aws.ToString(fn.FunctionName))
			if fn.State != "" || fn.LastUpdateStatus != "" || fn.RuntimeVersionConfig != nil {
				t.Errorf("listed function carries state: %s", jsonOf(fn))
			}
		}
	}
	if pages != 3 || jsonOf(seen) != jsonOf(names) {
		t.Fatalf("ListFunctions gave %v in %d pages, want %v in 3", seen, pages, names)
	}
	all, err := c.ListFunctions(ctx(t), &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, fn := range all.Functions {
		arns = append(arns, aws.ToString(fn.FunctionArn))
	}
	const p = "arn:aws:lambda:us-east-1:000000000000:function:"
	want := []string{p + "a-fn:$LATEST", p + "b-fn:$LATEST", p + "c-fn:$LATEST", p + "c-fn:1", p + "d-fn:$LATEST", p + "e-fn:$LATEST"}
	if jsonOf(arns) != jsonOf(want) {
		t.Fatalf("FunctionVersion=ALL gave %v, want %v", arns, want)
	}
	// Pages count versions, not functions: c-fn's two items split.
	arns = nil
	allPager := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll, MaxItems: aws.Int32(3)})
	for allPager.HasMorePages() {
		page, err := allPager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Functions) > 3 {
			t.Fatalf("page of %d items with MaxItems 3", len(page.Functions))
		}
		for _, fn := range page.Functions {
			arns = append(arns, aws.ToString(fn.FunctionArn))
		}
	}
	if jsonOf(arns) != jsonOf(want) {
		t.Fatalf("paging FunctionVersion=ALL gave %v, want %v", arns, want)
	}
}

func createFunction(t testing.TB, c *lambda.Client, name string) *lambda.CreateFunctionOutput {
	t.Helper()
	out, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeNodejs20x,
		Role:         aws.String(testRole),
		Handler:      aws.String("index.handler"),
		Code:         &types.FunctionCode{ZipFile: nodeZip(t, name)},
	})
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
	return out
}

func TestVersionsAndAliases(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	createFunction(t, c, "svc")
	fn := aws.String("svc")

	v1, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: fn, Description: aws.String("first")})
	if err != nil {
		t.Fatalf("PublishVersion: %v", err)
	}
	if aws.ToString(v1.Version) != "1" || aws.ToString(v1.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:svc:1" || aws.ToString(v1.Description) != "first" {
		t.Fatalf("PublishVersion answered %s", jsonOf(v1))
	}
	again, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: fn, Description: aws.String("ignored")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.Version) != "1" || aws.ToString(again.RevisionId) != aws.ToString(v1.RevisionId) || aws.ToString(again.Description) != "first" {
		t.Fatalf("publishing unchanged code made a new version: %s", jsonOf(again))
	}
	_, err = c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: fn, CodeSha256: aws.String("wrong")})
	apiErrCode(t, err, "InvalidParameterValueException")

	if _, err := c.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: fn, ZipFile: nodeZip(t, "v2")}); err != nil {
		t.Fatal(err)
	}
	v2, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: fn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(v2.Version) != "2" {
		t.Fatalf("second publish gave version %s", aws.ToString(v2.Version))
	}

	versions, err := c.ListVersionsByFunction(ctx(t), &lambda.ListVersionsByFunctionInput{FunctionName: fn})
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, v := range versions.Versions {
		vs = append(vs, aws.ToString(v.Version))
	}
	if jsonOf(vs) != jsonOf([]string{"$LATEST", "1", "2"}) || aws.ToString(versions.Versions[0].FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:svc:$LATEST" {
		t.Fatalf("ListVersionsByFunction gave %v (%s)", vs, aws.ToString(versions.Versions[0].FunctionArn))
	}
	page, err := c.ListVersionsByFunction(ctx(t), &lambda.ListVersionsByFunctionInput{FunctionName: fn, MaxItems: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	next, err := c.ListVersionsByFunction(ctx(t), &lambda.ListVersionsByFunctionInput{FunctionName: fn, Marker: page.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Versions) != 2 || len(next.Versions) != 1 || aws.ToString(next.Versions[0].Version) != "2" || next.NextMarker != nil {
		t.Fatalf("version pages: %d then %d (marker %v)", len(page.Versions), len(next.Versions), aws.ToString(page.NextMarker))
	}

	// Aliases.
	live, err := c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String("live"), FunctionVersion: aws.String("1")})
	if err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	if aws.ToString(live.AliasArn) != "arn:aws:lambda:us-east-1:000000000000:function:svc:live" || live.RoutingConfig != nil {
		t.Fatalf("CreateAlias answered %s", jsonOf(live))
	}
	_, err = c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String("live"), FunctionVersion: aws.String("1")})
	apiErr(t, err, "ResourceConflictException", "Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:svc:live")
	_, err = c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String("beta"), FunctionVersion: aws.String("9")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:svc:9")
	_, err = c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String("2024"), FunctionVersion: aws.String("1")})
	apiErr(t, err, "ValidationException", "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")

	weighted, err := c.UpdateAlias(ctx(t), &lambda.UpdateAliasInput{
		FunctionName: fn, Name: aws.String("live"), RevisionId: live.RevisionId,
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.25}},
	})
	if err != nil {
		t.Fatalf("UpdateAlias: %v", err)
	}
	if weighted.RoutingConfig.AdditionalVersionWeights["2"] != 0.25 || aws.ToString(weighted.RevisionId) == aws.ToString(live.RevisionId) {
		t.Fatalf("UpdateAlias answered %s", jsonOf(weighted))
	}
	_, err = c.UpdateAlias(ctx(t), &lambda.UpdateAliasInput{FunctionName: fn, Name: aws.String("live"), RevisionId: live.RevisionId})
	apiErrCode(t, err, "PreconditionFailedException")
	_, err = c.UpdateAlias(ctx(t), &lambda.UpdateAliasInput{FunctionName: fn, Name: aws.String("live"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"1": 0.5}}})
	apiErr(t, err, "InvalidParameterValueException", "Invalid function version 1. Function version 1 is already included in routing configuration.")
	_, err = c.UpdateAlias(ctx(t), &lambda.UpdateAliasInput{FunctionName: fn, Name: aws.String("nope"), FunctionVersion: aws.String("1")})
	apiErr(t, err, "ResourceNotFoundException", "Alias not found: arn:aws:lambda:us-east-1:000000000000:function:svc:nope")

	if _, err := c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String("edge"), FunctionVersion: aws.String("$LATEST")}); err != nil {
		t.Fatal(err)
	}
	aliases, err := c.ListAliases(ctx(t), &lambda.ListAliasesInput{FunctionName: fn})
	if err != nil {
		t.Fatal(err)
	}
	if len(aliases.Aliases) != 2 || aws.ToString(aliases.Aliases[0].Name) != "edge" || aws.ToString(aliases.Aliases[1].Name) != "live" {
		t.Fatalf("ListAliases gave %s", jsonOf(aliases.Aliases))
	}
	only1, err := c.ListAliases(ctx(t), &lambda.ListAliasesInput{FunctionName: fn, FunctionVersion: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(only1.Aliases) != 1 || aws.ToString(only1.Aliases[0].Name) != "live" {
		t.Fatalf("ListAliases FunctionVersion=1 gave %s", jsonOf(only1.Aliases))
	}

	// A version an alias routes to cannot go; an unused one can.
	_, err = c.DeleteFunction(ctx(t), &lambda.DeleteFunctionInput{FunctionName: fn, Qualifier: aws.String("2")})
	apiErr(t, err, "ResourceConflictException", "Unable to delete version because the following aliases reference it: [live]")
	_, err = c.DeleteFunction(ctx(t), &lambda.DeleteFunctionInput{FunctionName: fn, Qualifier: aws.String("$LATEST")})
	apiErr(t, err, "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function.")

	byAlias, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("svc:live")})
	if err != nil {
		t.Fatalf("GetFunction by alias: %v", err)
	}
	if aws.ToString(byAlias.Configuration.Version) != "1" || aws.ToString(byAlias.Configuration.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:svc:live" {
		t.Fatalf("GetFunction svc:live answered %s", jsonOf(byAlias.Configuration))
	}
	_, err = c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: fn, Qualifier: aws.String("missing")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:svc:missing")

	if _, err := c.DeleteAlias(ctx(t), &lambda.DeleteAliasInput{FunctionName: fn, Name: aws.String("live")}); err != nil {
		t.Fatalf("DeleteAlias: %v", err)
	}
	if _, err := c.DeleteAlias(ctx(t), &lambda.DeleteAliasInput{FunctionName: fn, Name: aws.String("live")}); err != nil {
		t.Fatalf("DeleteAlias of a deleted alias must succeed as on AWS: %v", err)
	}
	_, err = c.GetAlias(ctx(t), &lambda.GetAliasInput{FunctionName: fn, Name: aws.String("live")})
	apiErr(t, err, "ResourceNotFoundException", "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:svc:live")
	if _, err := c.DeleteFunction(ctx(t), &lambda.DeleteFunctionInput{FunctionName: fn, Qualifier: aws.String("2")}); err != nil {
		t.Fatalf("deleting an unused version: %v", err)
	}
	versions, err = c.ListVersionsByFunction(ctx(t), &lambda.ListVersionsByFunctionInput{FunctionName: fn})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) != 2 || aws.ToString(versions.Versions[1].Version) != "1" {
		t.Fatalf("after deleting version 2: %s", jsonOf(versions.Versions))
	}
	// Version numbers are never reused.
	if _, err := c.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: fn, ZipFile: nodeZip(t, "v3"), Publish: true}); err != nil {
		t.Fatal(err)
	}
	v3, err := c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: fn, Qualifier: aws.String("3")})
	if err != nil {
		t.Fatalf("version 3 after deleting 2: %v", err)
	}
	if aws.ToString(v3.Version) != "3" {
		t.Fatalf("got version %s", aws.ToString(v3.Version))
	}
}

func TestTags(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	arn := createFunction(t, c, "tagged").FunctionArn
	before, _ := c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("tagged")})

	if _, err := c.TagResource(ctx(t), &lambda.TagResourceInput{Resource: arn, Tags: map[string]string{"a": "1", "b": "2"}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.UntagResource(ctx(t), &lambda.UntagResourceInput{Resource: arn, TagKeys: []string{"a", "not-there"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	tags, err := c.ListTags(ctx(t), &lambda.ListTagsInput{Resource: arn})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if jsonOf(tags.Tags) != jsonOf(map[string]string{"b": "2"}) {
		t.Fatalf("tags = %v", tags.Tags)
	}
	after, _ := c.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("tagged")})
	if aws.ToString(after.RevisionId) == aws.ToString(before.RevisionId) {
		t.Errorf("tagging did not change the RevisionId, as it does on AWS")
	}
	_, err = c.TagResource(ctx(t), &lambda.TagResourceInput{Resource: aws.String(aws.ToString(arn) + ":1"), Tags: map[string]string{"a": "1"}})
	apiErr(t, err, "InvalidParameterValueException", "Tags on function aliases and versions are not supported. Please specify a function ARN.")
	_, err = c.ListTags(ctx(t), &lambda.ListTagsInput{Resource: aws.String("arn:aws:lambda:us-east-1:000000000000:function:nope")})
	apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")
	many := map[string]string{}
	for i := 0; i < 50; i++ {
		many[string(rune('A'+i%26))+string(rune('a'+i/26))] = "x"
	}
	_, err = c.TagResource(ctx(t), &lambda.TagResourceInput{Resource: arn, Tags: many})
	apiErr(t, err, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
}
