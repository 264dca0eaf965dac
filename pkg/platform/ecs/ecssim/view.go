package ecssim

// view is t as DescribeTasks (and RunTask, StopTask) show it. Tags come
// only when asked for (include TAGS; RunTask always echoes them).
func (s *Sim) view(t *task, withTags bool) taskView {
	v := taskView{
		Attachments: []attachmentView{{ID: t.attachmentID, Type: "ElasticNetworkInterface", Status: t.attachmentStatus,
			Details: s.eniDetails(t)}},
		Attributes:           []attributeView{{Name: "ecs.cpu-architecture", Value: "x86_64"}},
		AvailabilityZone:     t.az,
		ClusterArn:           s.clusterARN(t.cluster),
		ConnectivityAt:       epoch(t.connectivityAt),
		CPU:                  t.def.CPU,
		CreatedAt:            epoch(t.createdAt),
		DesiredStatus:        t.desiredStatus,
		EnableExecuteCommand: t.enableExecuteCommand,
		EphemeralStorage:     ephemeralStorage{SizeInGiB: 20},
		ExecutionStoppedAt:   epoch(t.executionStoppedAt),
		Group:                t.group,
		HealthStatus:         "UNKNOWN",
		LastStatus:           t.lastStatus,
		LaunchType:           "FARGATE",
		Memory:               t.def.Memory,
		Overrides:            t.overrides,
		PlatformVersion:      t.platformVersion,
		PlatformFamily:       "Linux",
		PullStartedAt:        epoch(t.pullStartedAt),
		PullStoppedAt:        epoch(t.pullStoppedAt),
		StartedAt:            epoch(t.startedAt),
		StartedBy:            t.startedBy,
		StopCode:             string(t.stopCode),
		StoppedAt:            epoch(t.stoppedAt),
		StoppedReason:        t.stoppedReason,
		StoppingAt:           epoch(t.stoppingAt),
		TaskArn:              t.arn,
		TaskDefinitionArn:    s.taskDefARN(t.def),
		Version:              t.version,
		Containers: []containerView{{
			ContainerArn: s.arnPrefix() + "container/" + t.cluster + "/" + t.id + "/" + t.containerID,
			TaskArn:      t.arn, Name: t.def.ContainerName, Image: t.def.Image, RuntimeID: t.runtimeID,
			LastStatus: t.containerStatus, ExitCode: t.exitCode, Reason: t.containerReason,
			NetworkInterfaces: []networkInterfaceView{{AttachmentID: t.attachmentID, PrivateIpv4Address: t.ip}},
			HealthStatus:      "UNKNOWN", CPU: "0",
		}},
	}
	if t.viaStrategy {
		v.CapacityProviderName = t.provider
	}
	if !t.connectivityAt.IsZero() {
		v.Connectivity = "CONNECTED"
		if t.lastStatus == statusStopped {
			v.Connectivity = "DISCONNECTED"
		}
	}
	if withTags {
		v.Tags = append([]Tag{}, t.tags...)
	}
	return v
}

// eniDetails are the ENI attachment's details once it is attached.
func (s *Sim) eniDetails(t *task) []attributeView {
	d := []attributeView{{Name: "subnetId", Value: t.subnet}}
	if t.attachmentStatus == "PRECREATED" {
		return d
	}
	return append(d,
		attributeView{Name: "networkInterfaceId", Value: t.eniID},
		attributeView{Name: "macAddress", Value: t.mac},
		attributeView{Name: "privateDnsName", Value: "ip-" + dashed(t.ip) + ".ec2.internal"},
		attributeView{Name: "privateIPv4Address", Value: t.ip})
}

func dashed(ip string) string {
	b := []byte(ip)
	for i, c := range b {
		if c == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}
