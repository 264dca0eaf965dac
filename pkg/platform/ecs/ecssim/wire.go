package ecssim

import (
	"encoding/json"
	"strconv"
	"time"
)

// epoch is an awsJson1_1 timestamp: seconds since the epoch as a JSON
// number, with millisecond precision as ECS sends them.
type epoch time.Time

func (e epoch) IsZero() bool { return time.Time(e).IsZero() }

func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(e).UnixMilli())/1e3, 'f', -1, 64), nil
}

// Tag is an ECS resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type keyValue struct {
	Name  *string `json:"name,omitempty"`
	Value *string `json:"value,omitempty"`
}

type strategyItem struct {
	CapacityProvider *string `json:"capacityProvider"`
	Weight           *int    `json:"weight,omitempty"`
	Base             *int    `json:"base,omitempty"`
}

type awsVPCConfiguration struct {
	Subnets        []string `json:"subnets"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
	AssignPublicIP *string  `json:"assignPublicIp,omitempty"`
}

type networkConfiguration struct {
	AwsvpcConfiguration *awsVPCConfiguration `json:"awsvpcConfiguration"`
}

type containerOverride struct {
	Name        *string    `json:"name,omitempty"`
	Command     []string   `json:"command,omitempty"`
	Environment []keyValue `json:"environment,omitempty"`
}

type taskOverride struct {
	ContainerOverrides []containerOverride `json:"containerOverrides"`
}

type runTaskRequest struct {
	Cluster                  *string               `json:"cluster"`
	TaskDefinition           *string               `json:"taskDefinition"`
	Count                    *int                  `json:"count"`
	LaunchType               *string               `json:"launchType"`
	CapacityProviderStrategy []strategyItem        `json:"capacityProviderStrategy"`
	NetworkConfiguration     *networkConfiguration `json:"networkConfiguration"`
	Overrides                json.RawMessage       `json:"overrides"`
	StartedBy                *string               `json:"startedBy"`
	Group                    *string               `json:"group"`
	Tags                     []Tag                 `json:"tags"`
	ClientToken              *string               `json:"clientToken"`
	EnableExecuteCommand     bool                  `json:"enableExecuteCommand"`
	PlatformVersion          *string               `json:"platformVersion"`
}

type runTaskResponse struct {
	Tasks    []taskView    `json:"tasks"`
	Failures []failureView `json:"failures"`
}

type stopTaskRequest struct {
	Cluster *string `json:"cluster"`
	Task    *string `json:"task"`
	Reason  *string `json:"reason"`
}

type stopTaskResponse struct {
	Task taskView `json:"task"`
}

type describeTasksRequest struct {
	Cluster *string  `json:"cluster"`
	Tasks   []string `json:"tasks"`
	Include []string `json:"include"`
}

type describeTasksResponse struct {
	Tasks    []taskView    `json:"tasks"`
	Failures []failureView `json:"failures"`
}

type listTasksRequest struct {
	Cluster           *string `json:"cluster"`
	ContainerInstance *string `json:"containerInstance"`
	Family            *string `json:"family"`
	NextToken         *string `json:"nextToken"`
	MaxResults        *int    `json:"maxResults"`
	StartedBy         *string `json:"startedBy"`
	ServiceName       *string `json:"serviceName"`
	DesiredStatus     *string `json:"desiredStatus"`
	LaunchType        *string `json:"launchType"`
}

type listTasksResponse struct {
	TaskArns  []string `json:"taskArns"`
	NextToken string   `json:"nextToken,omitempty"`
}

type failureView struct {
	Arn    string `json:"arn,omitempty"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

type taskView struct {
	Attachments          []attachmentView `json:"attachments"`
	Attributes           []attributeView  `json:"attributes"`
	AvailabilityZone     string           `json:"availabilityZone"`
	CapacityProviderName string           `json:"capacityProviderName,omitempty"`
	ClusterArn           string           `json:"clusterArn"`
	Connectivity         string           `json:"connectivity,omitempty"`
	ConnectivityAt       epoch            `json:"connectivityAt,omitzero"`
	Containers           []containerView  `json:"containers"`
	CPU                  string           `json:"cpu"`
	CreatedAt            epoch            `json:"createdAt,omitzero"`
	DesiredStatus        string           `json:"desiredStatus"`
	EnableExecuteCommand bool             `json:"enableExecuteCommand"`
	EphemeralStorage     ephemeralStorage `json:"ephemeralStorage"`
	ExecutionStoppedAt   epoch            `json:"executionStoppedAt,omitzero"`
	Group                string           `json:"group"`
	HealthStatus         string           `json:"healthStatus"`
	LastStatus           string           `json:"lastStatus"`
	LaunchType           string           `json:"launchType"`
	Memory               string           `json:"memory"`
	Overrides            json.RawMessage  `json:"overrides"`
	PlatformVersion      string           `json:"platformVersion"`
	PlatformFamily       string           `json:"platformFamily"`
	PullStartedAt        epoch            `json:"pullStartedAt,omitzero"`
	PullStoppedAt        epoch            `json:"pullStoppedAt,omitzero"`
	StartedAt            epoch            `json:"startedAt,omitzero"`
	StartedBy            string           `json:"startedBy,omitempty"`
	StopCode             string           `json:"stopCode,omitempty"`
	StoppedAt            epoch            `json:"stoppedAt,omitzero"`
	StoppedReason        string           `json:"stoppedReason,omitempty"`
	StoppingAt           epoch            `json:"stoppingAt,omitzero"`
	Tags                 []Tag            `json:"tags,omitempty"`
	TaskArn              string           `json:"taskArn"`
	TaskDefinitionArn    string           `json:"taskDefinitionArn"`
	Version              int64            `json:"version"`
}

type attachmentView struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Status  string          `json:"status"`
	Details []attributeView `json:"details"`
}

// attributeView is ECS's name/value pair (KeyValuePair and Attribute).
type attributeView struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

type ephemeralStorage struct {
	SizeInGiB int `json:"sizeInGiB"`
}

type containerView struct {
	ContainerArn      string                 `json:"containerArn"`
	TaskArn           string                 `json:"taskArn"`
	Name              string                 `json:"name"`
	Image             string                 `json:"image"`
	RuntimeID         string                 `json:"runtimeId,omitempty"`
	LastStatus        string                 `json:"lastStatus"`
	ExitCode          *int                   `json:"exitCode,omitempty"`
	Reason            string                 `json:"reason,omitempty"`
	NetworkInterfaces []networkInterfaceView `json:"networkInterfaces"`
	HealthStatus      string                 `json:"healthStatus"`
	CPU               string                 `json:"cpu"`
}

type networkInterfaceView struct {
	AttachmentID       string `json:"attachmentId"`
	PrivateIpv4Address string `json:"privateIpv4Address"`
}
