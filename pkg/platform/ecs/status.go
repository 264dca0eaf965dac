package ecs

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// throttleCodes are the error codes AWS answers a call over its rate with.
// ECS sends ThrottlingException; the others are the same condition under
// the names other AWS front ends (and simulators) use.
var throttleCodes = map[string]bool{
	"ThrottlingException":      true,
	"TooManyRequestsException": true,
	"RequestLimitExceeded":     true,
}

// StatusOf maps the error of one API call (as given to Config.OnRequest) to
// the HTTP status code metrics label it with: 200 for success, the
// response's code when AWS answered, 0 when no response came back (a
// transport error, a cancelled context, our own rate limiter). throttled
// reports an answer that says the call was over AWS's rate: ECS throttles
// with a 400, so the status code alone cannot tell.
func StatusOf(err error) (status int, throttled bool) {
	if err == nil {
		return http.StatusOK, false
	}
	// awshttp.ResponseError delegates As to the smithy one it embeds, so
	// this finds either.
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.Response != nil && resp.Response.Response != nil {
		status = resp.HTTPStatusCode()
	}
	var apiErr smithy.APIError
	throttled = errors.As(err, &apiErr) && throttleCodes[apiErr.ErrorCode()]
	return status, throttled
}
