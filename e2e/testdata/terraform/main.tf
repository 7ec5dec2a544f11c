# The stack e2e/terraform_test.go deploys to furl with Terraform's AWS
# provider, unmodified: a function (zip, environment, tags, a published
# version, reserved concurrency, an event invoke config), an alias, two
# function URLs (NONE with CORS on the function, AWS_IAM on the alias) and
# the resource-policy statements that let anyone call the public one.

variable "endpoint" {
  type        = string
  description = "furl's Lambda API, http://127.0.0.1:<port>"
}

variable "zip" {
  type        = string
  description = "the deployment package on disk"
}

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

# Only the Lambda endpoint is furl's; the skip_* settings keep the provider
# from calling STS, IAM or the instance metadata service.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    lambda = var.endpoint
  }
}

resource "aws_lambda_function" "web" {
  function_name                  = "tf-web"
  role                           = "arn:aws:iam::000000000000:role/lambda-role" # a string: furl has no IAM
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  filename                       = var.zip
  source_code_hash               = filebase64sha256(var.zip)
  publish                        = true
  timeout                        = 7
  memory_size                    = 256
  reserved_concurrent_executions = 3
  environment {
    variables = { STAGE = "tf" }
  }
  tags = { team = "web", managed = "terraform" }
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.web.function_name
  function_version = aws_lambda_function.web.version
  description      = "what the IAM URL serves"
}

resource "aws_lambda_function_url" "public" {
  function_name      = aws_lambda_function.web.function_name
  authorization_type = "NONE"
  cors {
    allow_origins = ["https://app.example"]
    allow_methods = ["GET", "POST"]
    allow_headers = ["content-type"]
    max_age       = 300
  }
}

resource "aws_lambda_function_url" "private" {
  function_name      = aws_lambda_function.web.function_name
  qualifier          = aws_lambda_alias.live.name
  authorization_type = "AWS_IAM"
}

# The provider's aws_lambda_function_url adds a statement of its own for an
# AuthType NONE URL, FunctionURLAllowPublicAccess, as the console does. This
# one grants the same under another id: it checks that the provider reads
# back what furl stored (no drift), and taking the provider's id here would
# make the two resources race for one statement id, as on AWS.
resource "aws_lambda_permission" "url" {
  statement_id           = "AllowPublicUrlFromTerraform"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.web.function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# Since October 2025 a public URL also needs lambda:InvokeFunction. The
# provider this runs with (5.x) has no invoked_via_function_url argument, so
# the statement is unconditioned: it also lets anyone call Invoke.
resource "aws_lambda_permission" "invoke" {
  statement_id  = "FunctionURLInvokeAllowPublicAccess"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.web.function_name
  principal     = "*"
}

resource "aws_lambda_function_event_invoke_config" "web" {
  function_name                = aws_lambda_function.web.function_name
  maximum_retry_attempts       = 1
  maximum_event_age_in_seconds = 600
}

output "public_url" { value = aws_lambda_function_url.public.function_url }
output "private_url" { value = aws_lambda_function_url.private.function_url }
