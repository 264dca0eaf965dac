package ecssim

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// Client is the real SDK's ECS client for a simulator served at url, signing
// with the given keys, retrying quickly and without the SDK's client-side
// retry quota: what tests of code that calls ECS through the SDK want.
func Client(url, accessKeyID, secretAccessKey string) *ecs.Client {
	return ecs.New(ecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.RateLimiter, o.MaxBackoff = ratelimit.None, 50*time.Millisecond
		})})
}
