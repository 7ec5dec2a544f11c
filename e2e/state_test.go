package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// snapshot reads everything the Lambda API shows about the account, to
// compare the state before and after something that must not change it.
// Code.Location and FunctionUrl carry furl's address, which a restart on
// another port changes; they are left out unless keepAddresses is set.
func snapshot(t testing.TB, c *lambda.Client, keepAddresses bool) string {
	t.Helper()
	var b strings.Builder
	settings, err := c.GetAccountSettings(ctx(t), &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatalf("snapshot: GetAccountSettings: %v", err)
	}
	b.WriteString("account " + jsonOf(settings.AccountLimit) + jsonOf(settings.AccountUsage) + "\n")
	pager := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("snapshot: ListFunctions: %v", err)
		}
		for _, fn := range page.Functions {
			snapshotFunction(t, c, &b, aws.ToString(fn.FunctionName), keepAddresses)
		}
	}
	return b.String()
}

func snapshotFunction(t testing.TB, c *lambda.Client, b *strings.Builder, name string, keepAddresses bool) {
	t.Helper()
	fn := aws.String(name)
	got, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: fn})
	if err != nil {
		t.Fatalf("snapshot: GetFunction %s: %v", name, err)
	}
	if !keepAddresses {
		got.Code.Location = nil
	}
	b.WriteString("function " + name + " " + jsonOf(got.Configuration) + jsonOf(got.Code) + jsonOf(got.Tags) + jsonOf(got.Concurrency) + "\n")

	qualifiers := []*string{nil}
	versions, err := c.ListVersionsByFunction(ctx(t), &lambda.ListVersionsByFunctionInput{FunctionName: fn})
	if err != nil {
		t.Fatalf("snapshot: ListVersionsByFunction %s: %v", name, err)
	}
	for _, v := range versions.Versions {
		b.WriteString("  version " + jsonOf(v) + "\n")
		if aws.ToString(v.Version) != "$LATEST" {
			qualifiers = append(qualifiers, v.Version)
		}
	}
	aliases, err := c.ListAliases(ctx(t), &lambda.ListAliasesInput{FunctionName: fn})
	if err != nil {
		t.Fatalf("snapshot: ListAliases %s: %v", name, err)
	}
	for _, a := range aliases.Aliases {
		b.WriteString("  alias " + jsonOf(a) + "\n")
		qualifiers = append(qualifiers, a.Name)
	}
	urls, err := c.ListFunctionUrlConfigs(ctx(t), &lambda.ListFunctionUrlConfigsInput{FunctionName: fn})
	if err != nil {
		t.Fatalf("snapshot: ListFunctionUrlConfigs %s: %v", name, err)
	}
	for _, u := range urls.FunctionUrlConfigs {
		if !keepAddresses {
			id := aws.ToString(u.FunctionUrl)
			id = id[len("http://"):strings.Index(id, ".")]
			u.FunctionUrl = aws.String(id)
		}
		b.WriteString("  url " + jsonOf(u) + "\n")
	}
	for _, q := range qualifiers {
		p, err := c.GetPolicy(ctx(t), &lambda.GetPolicyInput{FunctionName: fn, Qualifier: q})
		var ae smithy.APIError
		switch {
		case err == nil:
			b.WriteString("  policy " + aws.ToString(q) + " " + aws.ToString(p.Policy) + " " + aws.ToString(p.RevisionId) + "\n")
		case errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException":
		default:
			t.Fatalf("snapshot: GetPolicy %s %s: %v", name, aws.ToString(q), err)
		}
	}
	conc, err := c.GetFunctionConcurrency(ctx(t), &lambda.GetFunctionConcurrencyInput{FunctionName: fn})
	if err != nil {
		t.Fatalf("snapshot: GetFunctionConcurrency %s: %v", name, err)
	}
	b.WriteString("  concurrency " + jsonOf(conc.ReservedConcurrentExecutions) + "\n")
}

// populate builds an account that uses every kind of state furl keeps.
func populate(t testing.TB, c *lambda.Client) {
	t.Helper()
	for _, name := range []string{"alpha", "beta"} {
		createFunction(t, c, name)
		fn := aws.String(name)
		if _, err := c.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: fn, Description: aws.String("v1 of " + name)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: fn,
			Environment: &types.Environment{Variables: map[string]string{"NAME": name}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: fn, Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []*string{nil, aws.String("live")} {
			if _, err := c.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{FunctionName: fn, Qualifier: q,
				AuthType: types.FunctionUrlAuthTypeNone, Cors: &types.Cors{AllowOrigins: []string{"*"}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.AddPermission(ctx(t), &lambda.AddPermissionInput{FunctionName: fn, Qualifier: q, StatementId: aws.String("url"),
				Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.TagResource(ctx(t), &lambda.TagResourceInput{Resource: aws.String("arn:aws:lambda:us-east-1:000000000000:function:" + name),
			Tags: map[string]string{"owner": name}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("beta"), ReservedConcurrentExecutions: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
}
