package alarm

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
)

var testOpts = Options{DefaultRegion: "cn-beijing"}

// Samples from alarm-events.md; the section is named in each test case.
const (
	// §1.3 QUOTED doc sample, shown un-encoded with the stray ")".
	docFormSample = `expression=$Average>=95&metricName=Host.mem.usedutilization&instanceName=instance-name-****&signature=eEq1zHuCUp0XSmLD8p8VtTKF****&metricProject=acs_ecs&userId=12****&curValue=97.39&alertName=Basic monitoring-ECS-memory usage&namespace=acs_ecs&triggerLevel=WARN&alertState=ALERT&preTriggerLevel=WARN&ruleId=applyTemplateee147e59-664f-4033-a1be-e9595746****&dimensions={userId=12****), instanceId=i-12****}&timestamp=1508136760`

	// §1.3 QUOTED real API Gateway bodies: no instanceId in dimensions.
	realAlertBody = `lastTime=0%E5%88%86%E9%92%9F&rawMetricName=code5XX_stage&expression=%24Value+%3E%3D+5&metricName=code5XX_stage&instanceName=null&signature=FpaZx5JmbQaKGAKM90Wj95oZh%2Fo%3D&transId=db5f2204-00ae-11ee-a24f-00163e205386&groupId=41263096&regionName=null&productGroupName=new-ecommerce-pd&metricProject=acs_apigateway&userId=1273560756088235&curValue=9&unit=%E4%B8%AA&alertName=API%E7%BD%91%E5%85%B3_%E8%BF%94%E5%9B%9E%E7%A0%815XX%E4%B8%AA%E6%95%B0&regionId=null&namespace=acs_apigateway&triggerLevel=INFO&alertState=ALERT&preTriggerLevel=null&ruleId=alarmRule_uuid_bf585f0992efef820bdab9920a57e178d8ae545f32f&dimensions=%7BapiStageName%3DRELEASE%2C+apiUid%3D42df3c02c3124cc3becd911e9495cc25%2C+region%3Dcn-shenzhen%2C+userId%3D1273560756088235%7D&timestamp=1685646149981`
	realOKBody    = `lastTime=2%E5%88%86%E9%92%9F&rawMetricName=code4XX_stage&expression=%24Value+%3E%3D+5&metricName=code4XX_stage&instanceName=null&signature=DxpsDBGaSPrVmSqA3j7xdQ3IVyo%3D&transId=2e0a0647-0064-11ee-b07f-00163e2e4b9a&groupId=41263096&regionName=null&productGroupName=new-ecommerce-pd&metricProject=acs_apigateway&userId=1273560756088235&curValue=2&unit=%E4%B8%AA&alertName=API%E7%BD%91%E5%85%B3_%E8%BF%94%E5%9B%9E%E7%A0%814XX%E4%B8%AA%E6%95%B0&regionId=null&namespace=acs_apigateway&triggerLevel=OK&alertState=OK&preTriggerLevel=INFO&ruleId=alarmRule_uuid_b13a2db9f1d577826640dbd79aad4178d8adf31238a&dimensions=%7BapiStageName%3DRELEASE%2C+apiUid%3Dc6fa0ad7950644b68437d8ae10f0b95f%2C+region%3Dcn-shenzhen%2C+userId%3D1273560756088235%7D&timestamp=1685614196421`

	// §1.3 CONSTRUCTED ECS alert as a JSON map.
	constructedJSON = `{
  "alertName": "ecs-bw-out-usage-high", "alertState": "ALERT", "curValue": "92.5",
  "dimensions": "{userId=1234567890123456, instanceId=i-bp1abcdefghijklmn, ip=47.96.1.2}",
  "expression": "$Average>=80", "instanceName": "web-01",
  "metricName": "VPC_PublicIP_InternetOutRate_Percent", "metricProject": "acs_ecs_dashboard",
  "namespace": "acs_ecs_dashboard", "preTriggerLevel": "null", "triggerLevel": "WARN",
  "ruleId": "alarmRule_uuid_0123456789abcdef", "timestamp": "1717000000000", "userId": "1234567890123456",
  "signature": "AbCdEfGhIjKlMnOpQrStUvWxYz0=", "lastTime": "0分钟",
  "rawMetricName": "VPC_PublicIP_InternetOutRate_Percent", "transId": "8f0c2c1e-1d2b-11ef-9f3a-00163e000000",
  "groupId": "", "productGroupName": "", "regionId": "cn-hangzhou", "regionName": "华东1（杭州）", "unit": "%"}`

	// §1.3 CONSTRUCTED: the same alert cleared.
	constructedClearedJSON = `{
  "alertName": "ecs-bw-out-usage-high", "alertState": "OK", "curValue": "41.0",
  "dimensions": "{userId=1234567890123456, instanceId=i-bp1abcdefghijklmn, ip=47.96.1.2}",
  "metricName": "VPC_PublicIP_InternetOutRate_Percent", "namespace": "acs_ecs_dashboard",
  "preTriggerLevel": "WARN", "triggerLevel": "OK", "ruleId": "alarmRule_uuid_0123456789abcdef",
  "timestamp": "1717000600000", "userId": "1234567890123456", "regionId": "cn-hangzhou",
  "transId": "8f0c2c1e-1d2b-11ef-9f3a-00163e000009", "signature": "ZZZdEfGhIjKlMnOpQrStUvWxYz0="}`

	// §1.4 CONSTRUCTED 2018 (legacy) callback: ALARM, JSON-list dimensions
	// and expression, seconds.
	legacyJSON = `{"userId":"12345","alertName":"cpu","timestamp":"1508136760","alertState":"ALARM",
  "dimensions":[{"userId":"12345","instanceId":"i-12345"}],
  "expression":[{"expression":"$Average>90","level":4,"times":2}],
  "curValue":"95","metricName":"cpu_total","metricProject":"acs_ecs_dashboard"}`

	// §2(a) QUOTED MNS rule-target message.
	mnsRuleTarget = `{
  "ruleId": "putNewAlarm_group_778af9ba-a291-46ab-ac53-3983bcee****", "ruleName": "test",
  "curLevel": "WARN", "preLevel": "OK", "resources": "{\"instanceId\": \"i-uf61rfofjd2iku7e****\"}",
  "escalation": {"comparisonOperator": "GreaterThanYesterday", "level": 3, "statistics": "Average",
                 "tag": "WARN", "threshold": "0", "times": 1},
  "metricData": {
    "timestamp": 1534736160000, "userId": "127067667954****", "instanceId": "i-uf61rfofjd2iku7e****",
    "Average": 470687744, "Maximum": 470794240, "Minimum": 470556672,
    "AliyunCmsPrevValues": {"timestamp": 1534649760000, "userId": "127067667954****",
                            "instanceId": "i-uf61rfofjd2iku7e****", "Average": 468463616,
                            "Maximum": 468549632, "Minimum": 468258816},
    "AliyunCmsComplexExpression": "100.0 * ($Average-$$prevAverage)/$$prevAverage",
    "AliyunCmsComplexMath": "100.0 * (470687744-468463616)/468463616",
    "AliyunCmsComplexValue": 0.47477070236336133
  },
  "metricName": "memory_actualusedspace#60", "namespace": "acs_ecs_dashboard", "period": "60",
  "groupBy": "group", "productGroupName": "RDS instance group", "groupId": "12345",
  "lastTime": 327362743, "time": 1534736160000, "userId": "173651113438****",
  "eventName": "AlertOk", "eventType": "Alert", "batchId": "4272653-152082****-0", "version": "1.0"}`

	// §2(b) QUOTED EventBridge overview sample: not an alert.
	eventBridgeMeeting = `{
  "data": {"meetingName": "swqd", "groupId": "456", "action": "camera_off", "time": 1590592527490,
           "userId": "199525", "meetingUUID": "hz-20864c8f-b10d-45cd-9935-884bca1b****"},
  "id": "45ef4dewdwe1-7c35-447a-bd93-fab****", "source": "acs:aliyuncvc", "specversion": "1.0",
  "subject": "acs.aliyuncvc:cn-hangzhou:{AccountId}:215672", "time": "2020-11-19T21:04:41+08:00",
  "type": "aliyuncvc:MeetingEvent:MemberOperate", "aliyunaccountid": "123456789098****",
  "aliyunpublishtime": "2020-11-19T21:04:42.179PRC", "aliyuneventbusname": "default",
  "aliyunregionid": "cn-hangzhou", "aliyunpublishaddr": "172.25.XX.XX"}`

	// §2(b) CONSTRUCTED alert callback event.
	eventBridgeAlert = `{
  "specversion": "1.0", "id": "5f1e2d3c-0000-4000-8000-000000000001", "source": "acs.cms",
  "type": "cms:CloudMonitor:AlertWebHook",
  "subject": "acs.cms:cn-hangzhou:1234567890123456:alarmRule_uuid_0123456789abcdef",
  "time": "2024-05-29T16:26:40+08:00", "datacontenttype": "application/json;charset=utf-8",
  "aliyunaccountid": "1234567890123456", "aliyunpublishtime": "2024-05-29T16:26:41.123Z",
  "aliyuneventbusname": "default", "aliyunregionid": "cn-hangzhou",
  "data": {
    "alertName": "ecs-bw-out-usage-high", "alertState": "ALERT", "triggerLevel": "WARN",
    "preTriggerLevel": "null", "curValue": "92.5", "metricName": "VPC_PublicIP_InternetOutRate_Percent",
    "namespace": "acs_ecs_dashboard", "ruleId": "alarmRule_uuid_0123456789abcdef",
    "dimensions": "{userId=1234567890123456, instanceId=i-bp1abcdefghijklmn, ip=47.96.1.2}",
    "timestamp": "1717000000000", "userId": "1234567890123456"}}`

	// §2(c) QUOTED FC 3.0 HTTP trigger event sample.
	httpHelloFC = `{
  "version": "v1", "rawPath": "/example", "body": "Hello FC!", "isBase64Encoded": false,
  "headers": {"header1": "value1", "header2": "value1,value2"},
  "queryParameters": {"parameter1": "value1", "parameter2": "value1,value2"},
  "requestContext": {
    "accountId": "123456*********", "domainName": "<http-trigger-id>.<region-id>.fcapp.run",
    "domainPrefix": "<http-trigger-id>",
    "http": {"method": "GET", "path": "/example", "protocol": "HTTP/1.1",
             "sourceIp": "11.11.11.**", "userAgent": "PostmanRuntime/7.32.3"},
    "requestId": "1-64f6cd87-*************", "time": "2023-09-05T06:41:11Z", "timeEpoch": "1693896071895"}}`

	// §2(c) CONSTRUCTED HTTP trigger event for the constructed alert.
	httpConstructed = `{
  "version": "v1", "rawPath": "/cms-callback",
  "body": "alertName=ecs-bw-out-usage-high&alertState=ALERT&curValue=92.5&dimensions=%7BuserId%3D1234567890123456%2C+instanceId%3Di-bp1abcdefghijklmn%2C+ip%3D47.96.1.2%7D&expression=%24Average%3E%3D80&instanceName=web-01&metricName=VPC_PublicIP_InternetOutRate_Percent&metricProject=acs_ecs_dashboard&namespace=acs_ecs_dashboard&preTriggerLevel=null&ruleId=alarmRule_uuid_0123456789abcdef&signature=AbCdEfGhIjKlMnOpQrStUvWxYz0%3D&timestamp=1717000000000&triggerLevel=WARN&userId=1234567890123456&lastTime=0%E5%88%86%E9%92%9F&transId=8f0c2c1e-1d2b-11ef-9f3a-00163e000000&regionId=cn-hangzhou&unit=%25",
  "isBase64Encoded": false,
  "headers": {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
              "Content-Length": "612", "User-Agent": "Java/1.8.0"},
  "queryParameters": {"token": "s3cr3t"},
  "requestContext": {
    "accountId": "1234567890123456", "domainName": "cms-cb-abcdefgh.cn-hangzhou.fcapp.run",
    "domainPrefix": "cms-cb-abcdefgh",
    "http": {"method": "POST", "path": "/cms-callback", "protocol": "HTTP/1.1",
             "sourceIp": "47.74.206.10", "userAgent": "Java/1.8.0"},
    "requestId": "1-66570000-0123456789abcdef", "time": "2024-05-29T08:26:40Z", "timeEpoch": "1716971200000"}}`
)

// constructedAlarm is what the constructed ECS alert decodes to.
var constructedAlarm = Alarm{
	InstanceID: "i-bp1abcdefghijklmn", Region: "cn-hangzhou",
	Metric: MetricVPCInternetOutRatePercent, Namespace: "acs_ecs_dashboard",
	Value: 92.5, Unit: "%", State: StateAlert, Level: "WARN",
	RuleID: "alarmRule_uuid_0123456789abcdef", RuleName: "ecs-bw-out-usage-high",
	Time: time.UnixMilli(1717000000000), AccountID: "1234567890123456",
}

// with returns a copy of a changed by change.
func with(a Alarm, change func(*Alarm)) Alarm {
	change(&a)
	return a
}

// httpEvent wraps a body in an FC 3.0 HTTP trigger event built with the FC
// SDK's own type, so that the intake stays in step with it.
func httpEvent(t testing.TB, body string, base64Encoded bool) []byte {
	t.Helper()
	if base64Encoded {
		body = base64.StdEncoding.EncodeToString([]byte(body))
	}
	method, path, ip := "POST", "/cms-callback", "47.74.206.10"
	var e events.HTTPTriggerEvent
	e.Body = &body
	e.IsBase64Encoded = &base64Encoded
	e.Headers = &map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Extra": "a,b"}
	e.QueryParameters = &map[string]string{"token": "t0"}
	e.TriggerContext.Http.Method, e.TriggerContext.Http.Path, e.TriggerContext.Http.SourceIp = &method, &path, &ip
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var sdkHTTPRequest = &HTTPRequest{
	Method: "POST", Path: "/cms-callback", SourceIP: "47.74.206.10",
	Query:   map[string]string{"token": "t0"},
	Headers: map[string]string{"content-type": "application/x-www-form-urlencoded", "x-extra": "a,b"},
}

func TestDecodeAccepts(t *testing.T) {
	constructedForm := "alertName=ecs-bw-out-usage-high&alertState=ALERT&curValue=92.5" +
		"&dimensions=%7BuserId%3D1234567890123456%2C+instanceId%3Di-bp1abcdefghijklmn%7D" +
		"&metricName=VPC_PublicIP_InternetOutRate_Percent&namespace=acs_ecs_dashboard&triggerLevel=WARN" +
		"&ruleId=alarmRule_uuid_0123456789abcdef&timestamp=1717000000000&userId=1234567890123456&regionId=cn-hangzhou"
	oneCallback := func(fields string) string {
		return `{"alertState":"ALERT","curValue":"50","metricName":"InternetOutRate","timestamp":"1717000000000",` + fields + `}`
	}
	base := Alarm{
		InstanceID: "i-1", Region: "cn-beijing", Metric: MetricInternetOutRate, Value: 50, Unit: "bit/s",
		State: StateAlert, Time: time.UnixMilli(1717000000000),
	}
	tests := []struct {
		name    string
		payload string
		want    Delivery
	}{
		{
			name:    "§1.3 quoted doc sample, un-encoded form with stray paren, seconds",
			payload: docFormSample,
			want: Delivery{Kind: KindAlarm, Source: "callback-form", Alarms: []Alarm{{
				InstanceID: "i-12****", Region: "cn-beijing", Metric: "Host.mem.usedutilization", Namespace: "acs_ecs",
				UnknownMetric: `metricName "Host.mem.usedutilization"`,
				Value:         97.39, State: StateAlert, Level: "WARN",
				RuleID: "applyTemplateee147e59-664f-4033-a1be-e9595746****", RuleName: "Basic monitoring-ECS-memory usage",
				Time: time.Unix(1508136760, 0), AccountID: "12****",
			}}},
		},
		{
			name: "display name in metricName, the metric in rawMetricName, with preTriggerLevel, triggerLevel, ruleId and signature",
			payload: oneCallback(`"metricName":"公网流出带宽使用率","rawMetricName":"InternetOutRate","dimensions":"{instanceId=i-1}",` +
				`"preTriggerLevel":"null","triggerLevel":"WARN","ruleId":"r1","signature":"eEq1zHuCUp0XSmLD8p8VtTKF****"`),
			want: Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{with(base, func(a *Alarm) { a.Level, a.RuleID = "WARN", "r1" })}},
		},
		{
			name:    "display name in rawMetricName, the metric in metricName",
			payload: oneCallback(`"rawMetricName":"公网流出带宽使用率","dimensions":"{instanceId=i-1}"`),
			want:    Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{base}},
		},
		{
			name:    "only a display name: decoded with its instance, the name kept as unknown",
			payload: `alertState=ALERT&curValue=92&metricName=` + "%E5%86%85%E5%AD%98%E4%BD%BF%E7%94%A8%E7%8E%87" + `&dimensions=%7BinstanceId%3Di-1%7D&timestamp=1717000000000&preTriggerLevel=WARN&triggerLevel=WARN&ruleId=r1&signature=x%3D`,
			want: Delivery{Kind: KindAlarm, Source: "callback-form", Alarms: []Alarm{with(base, func(a *Alarm) {
				a.Metric, a.UnknownMetric, a.Value, a.Unit, a.Level, a.RuleID = "内存使用率", `metricName "内存使用率"`, 92, "", "WARN", "r1"
			})}},
		},
		{
			name:    "NO_DATA is INSUFFICIENT_DATA",
			payload: oneCallback(`"alertState":"NO_DATA","curValue":"","dimensions":"{instanceId=i-1}"`),
			want: Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{with(base, func(a *Alarm) {
				a.State, a.Value = StateInsufficientData, 0
			})}},
		},
		{
			name:    "§1.3 constructed ECS alert as JSON",
			payload: constructedJSON,
			want:    Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{constructedAlarm}},
		},
		{
			name:    "§1.3 constructed ECS alert cleared",
			payload: constructedClearedJSON,
			want: Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{with(constructedAlarm, func(a *Alarm) {
				a.State, a.Level, a.Value, a.Time = StateOK, "OK", 41, time.UnixMilli(1717000600000)
			})}},
		},
		{
			name:    "§1.3 constructed ECS alert as a bare form",
			payload: constructedForm,
			want:    Delivery{Kind: KindAlarm, Source: "callback-form", Alarms: []Alarm{constructedAlarm}},
		},
		{
			name:    "§1.4 legacy 2018 callback: ALARM, JSON list dimensions, seconds",
			payload: legacyJSON,
			want: Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{{
				InstanceID: "i-12345", Region: "cn-beijing", Metric: "cpu_total", UnknownMetric: `metricName "cpu_total"`, Namespace: "acs_ecs_dashboard",
				Value: 95, State: StateAlert, RuleName: "cpu", Time: time.Unix(1508136760, 0), AccountID: "12345",
			}}},
		},
		{
			name:    "§2(a) quoted MNS rule target",
			payload: mnsRuleTarget,
			want: Delivery{Kind: KindAlarm, Source: "rule-target", Alarms: []Alarm{{
				InstanceID: "i-uf61rfofjd2iku7e****", Region: "cn-beijing", Metric: "memory_actualusedspace",
				UnknownMetric: `metricName "memory_actualusedspace"`,
				Namespace:     "acs_ecs_dashboard", Value: 470687744, State: StateAlert, Level: "WARN",
				RuleID: "putNewAlarm_group_778af9ba-a291-46ab-ac53-3983bcee****", RuleName: "test",
				Time: time.UnixMilli(1534736160000), AccountID: "173651113438****",
			}}},
		},
		{
			name:    "§2(b) constructed EventBridge alert callback event",
			payload: eventBridgeAlert,
			want: Delivery{Kind: KindAlarm, Source: "eventbridge", Alarms: []Alarm{with(constructedAlarm, func(a *Alarm) {
				a.Region = "cn-beijing"
			})}},
		},
		{
			name: "EventBridge data as a form string, time from the envelope",
			payload: `{"specversion":"1.0","id":"e-1","type":"cms:CloudMonitor:AlertWebHook","time":"2024-05-29T16:26:40Z","aliyunaccountid":"42",` +
				`"data":"alertState=OK&curValue=3&metricName=InternetOutRate_Percent&dimensions=%7BinstanceId%3Di-1%7D"}`,
			want: Delivery{Kind: KindAlarm, Source: "eventbridge", Alarms: []Alarm{with(base, func(a *Alarm) {
				a.State, a.Value, a.Metric, a.Unit, a.AccountID = StateOK, 3, MetricInternetOutRatePercent, "%", "42"
			})}},
		},
		{
			name: "EventBridge data as a JSON string, no source, id or specversion",
			payload: `{"type":"cms:CloudMonitor:AlertWebHook","data":"{\"alertState\":\"ALERT\",\"curValue\":50,` +
				`\"metricName\":\"InternetOutRate\",\"dimensions\":\"{instanceId=i-1}\",\"timestamp\":1717000000000}"}`,
			want: Delivery{Kind: KindAlarm, Source: "eventbridge", Alarms: []Alarm{base}},
		},
		{
			name:    "§2(c) constructed HTTP trigger event with form body",
			payload: httpConstructed,
			want: Delivery{Kind: KindAlarm, Source: "callback-form", Alarms: []Alarm{constructedAlarm}, HTTP: &HTTPRequest{
				Method: "POST", Path: "/cms-callback", SourceIP: "47.74.206.10", Query: map[string]string{"token": "s3cr3t"},
				Headers: map[string]string{
					"content-type":   "application/x-www-form-urlencoded; charset=UTF-8",
					"content-length": "612", "user-agent": "Java/1.8.0",
				},
			}},
		},
		{
			name:    "HTTP trigger event from the FC SDK type, plain form body",
			payload: string(httpEvent(t, constructedForm, false)),
			want:    Delivery{Kind: KindAlarm, Source: "callback-form", Alarms: []Alarm{constructedAlarm}, HTTP: sdkHTTPRequest},
		},
		{
			name:    "HTTP trigger event, base64 form body",
			payload: string(httpEvent(t, constructedForm, true)),
			want:    Delivery{Kind: KindAlarm, Source: "callback-form", Alarms: []Alarm{constructedAlarm}, HTTP: sdkHTTPRequest},
		},
		{
			name:    "HTTP trigger event, base64 JSON body",
			payload: string(httpEvent(t, constructedJSON, true)),
			want:    Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{constructedAlarm}, HTTP: sdkHTTPRequest},
		},
		{
			name:    "HTTP trigger event, body is a list of EventBridge events",
			payload: string(httpEvent(t, "["+eventBridgeAlert+"]", false)),
			want: Delivery{Kind: KindAlarm, Source: "eventbridge", HTTP: sdkHTTPRequest, Alarms: []Alarm{
				with(constructedAlarm, func(a *Alarm) { a.Region = "cn-beijing" }),
			}},
		},
		{
			name:    "HTTP trigger event, manual invocation body",
			payload: string(httpEvent(t, `{"instanceId":"i-1","bandwidthOut":5}`, false)),
			want: Delivery{Kind: KindManual, Source: "manual", HTTP: sdkHTTPRequest,
				Manual: &Manual{InstanceID: "i-1", Region: "cn-beijing", BandwidthOut: 5}},
		},
		{
			name:    "list of callback objects",
			payload: "[" + constructedJSON + "," + constructedClearedJSON + "]",
			want: Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{constructedAlarm, with(constructedAlarm, func(a *Alarm) {
				a.State, a.Level, a.Value, a.Time = StateOK, "OK", 41, time.UnixMilli(1717000600000)
			})}},
		},
		{
			name:    "dimensions as a JSON object, numbers as numbers",
			payload: `{"alertState":"ALERT","curValue":50,"metricName":"InternetOutRate","timestamp":1717000000000,"dimensions":{"instanceId":"i-1","userId":7}}`,
			want:    Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{with(base, func(a *Alarm) { a.AccountID = "7" })}},
		},
		{
			name:    "dimensions as a string holding a JSON list",
			payload: oneCallback(`"dimensions":"[{\"userId\":\"7\"},{\"instanceId\":\"i-1\"}]"`),
			want:    Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{with(base, func(a *Alarm) { a.AccountID = "7" })}},
		},
		{
			name:    "region from dimensions when regionId is the string null",
			payload: oneCallback(`"regionId":"null","dimensions":"{instanceId=i-1, region=cn-shenzhen}"`),
			want:    Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{with(base, func(a *Alarm) { a.Region = "cn-shenzhen" })}},
		},
		{
			name:    "regionId field before dimensions",
			payload: oneCallback(`"regionId":"cn-qingdao","dimensions":"{instanceId=i-1, regionId=cn-shenzhen}"`),
			want:    Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{with(base, func(a *Alarm) { a.Region = "cn-qingdao" })}},
		},
		{
			name: "INSUFFICIENT_DATA without curValue, lower-case state, unknown metric keeps its unit",
			payload: `{"alertState":"insufficient_data","metricName":"cpu_total","unit":"%","timestamp":"1717000000",` +
				`"dimensions":"{instanceId=i-1}","transId":"x","customLabels":[{"label":"a","value":"b"}]}`,
			want: Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{with(base, func(a *Alarm) {
				a.State, a.Metric, a.UnknownMetric, a.Value, a.Unit = StateInsufficientData, "cpu_total", `metricName "cpu_total"`, 0, "%"
			})}},
		},
		{
			name:    "rule target with a Maximum statistic and no top-level time",
			payload: `{"curLevel":"critical","resources":"{\"instanceId\":\"i-1\"}","metricName":"VPC_PublicIP_InternetOutRate","escalation":{"statistics":"Maximum"},"metricData":{"timestamp":1717000000000,"Average":1,"Maximum":"50"}}`,
			want: Delivery{Kind: KindAlarm, Source: "rule-target", Alarms: []Alarm{with(base, func(a *Alarm) {
				a.Metric, a.Level = MetricVPCInternetOutRate, "CRITICAL"
			})}},
		},
		{
			name:    "rule target INSUFFICIENT_DATA without metricData, resources as a map string",
			payload: `{"curLevel":"INSUFFICIENT_DATA","resources":"{instanceId=i-1}","metricName":"InternetOutRate","time":"1717000000000"}`,
			want: Delivery{Kind: KindAlarm, Source: "rule-target", Alarms: []Alarm{with(base, func(a *Alarm) {
				a.State, a.Level, a.Value = StateInsufficientData, "INSUFFICIENT_DATA", 0
			})}},
		},
		{
			name:    "dimensions entry without a value is skipped",
			payload: oneCallback(`"dimensions":"{junk, instanceId=i-1, }"`),
			want:    Delivery{Kind: KindAlarm, Source: "callback-json", Alarms: []Alarm{base}},
		},
		{
			name:    "manual invocation",
			payload: `{"instanceId": "i-postpaid-traffic", "regionId": "cn-hangzhou", "bandwidthOut": 20}`,
			want: Delivery{Kind: KindManual, Source: "manual",
				Manual: &Manual{InstanceID: "i-postpaid-traffic", Region: "cn-hangzhou", BandwidthOut: 20}},
		},
		{
			name:    "manual dry run, numbers as strings, default region",
			payload: `{"instanceId": "i-1", "bandwidthOut": "20.0", "dryRun": "true"}`,
			want: Delivery{Kind: KindManual, Source: "manual",
				Manual: &Manual{InstanceID: "i-1", Region: "cn-beijing", BandwidthOut: 20, DryRun: true}},
		},
		{
			name:    "manual zero bandwidth",
			payload: `{"instanceId": "i-1", "bandwidthOut": 0, "dryRun": false}`,
			want:    Delivery{Kind: KindManual, Source: "manual", Manual: &Manual{InstanceID: "i-1", Region: "cn-beijing"}},
		},
		{
			name:    "FC timer event",
			payload: `{"triggerTime":"2022-07-29T10:02:58Z","triggerName":"TestTimer","payload":"TestPayload"}`,
			want:    Delivery{Kind: KindReconcile, Source: "timer"},
		},
		{
			name:    "reconcile action",
			payload: ` {"action": "reconcile"} `,
			want:    Delivery{Kind: KindReconcile, Source: "reconcile"},
		},
		{
			name:    "status action",
			payload: `{"action":"Status"}`,
			want:    Delivery{Kind: KindStatus, Source: "status"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.payload), testOpts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertDelivery(t, got, &tt.want)
		})
	}
}

// assertDelivery compares got with want, checking the form of keys rather
// than their value (keys are compared between deliveries in TestKeys).
func assertDelivery(t *testing.T, got, want *Delivery) {
	t.Helper()
	if got.Kind != want.Kind || got.Source != want.Source {
		t.Errorf("got kind %q source %q, want %q %q", got.Kind, got.Source, want.Kind, want.Source)
	}
	if !reflect.DeepEqual(got.Manual, want.Manual) {
		t.Errorf("got manual %+v, want %+v", got.Manual, want.Manual)
	}
	if !reflect.DeepEqual(got.HTTP, want.HTTP) {
		t.Errorf("got HTTP %+v, want %+v", got.HTTP, want.HTTP)
	}
	if len(got.Alarms) != len(want.Alarms) {
		t.Fatalf("got %d alarms, want %d: %+v", len(got.Alarms), len(want.Alarms), got.Alarms)
	}
	for i, g := range got.Alarms {
		w := want.Alarms[i]
		checkKey(t, g.Key)
		if !g.Time.Equal(w.Time) {
			t.Errorf("alarm %d: got time %v, want %v", i, g.Time, w.Time)
		}
		g.Key, g.Time, w.Time = "", time.Time{}, time.Time{}
		if g != w {
			t.Errorf("alarm %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func checkKey(t testing.TB, key string) {
	t.Helper()
	if _, err := hex.DecodeString(key); len(key) != 32 || err != nil {
		t.Errorf("key %q is not 32 hex characters", key)
	}
}

func TestDecodeRejects(t *testing.T) {
	long := strings.Repeat("x", 100)
	callback := func(fields string) string {
		return `{"alertState":"ALERT","curValue":"50","metricName":"InternetOutRate","timestamp":"1717000000000",` + fields + `}`
	}
	ruleTarget := func(fields string) string {
		return `{"curLevel":"WARN","resources":"{\"instanceId\":\"i-1\"}","metricName":"m","time":1717000000000,` + fields + `}`
	}
	tests := []struct {
		name, payload, err string
	}{
		{"too large", strings.Repeat(" ", MaxPayload+1), "alarm: payload is 262145 bytes, more than the 262144 allowed"},
		{"empty", " \n", "alarm: payload is empty"},
		{"JSON null", "null", "alarm: payload is a JSON null, not an object"},
		{"JSON number", "42", "alarm: payload is a JSON number, not an object"},
		{"JSON string", `"alertState=ALERT"`, "alarm: payload is a JSON string, not an object"},
		{"broken JSON", `{"alertState":`, "alarm: payload is not valid JSON: unexpected end of JSON input"},
		{"wrong type", `{"headers":[1]}`, "alarm: payload is not valid JSON: json: cannot unmarshal array into Go struct field fields.headers of type map[string]string"},
		{"unknown object", `{"hello":"world"}`, "alarm: payload is a JSON object of no known shape: it has none of alertState, dimensions, curLevel, resources, specversion, requestContext, triggerTime, action, instanceId or bandwidthOut"},
		{"plain text", "hello world", "alarm: payload is neither JSON nor an alert callback form"},
		{"§1.3 quoted real API Gateway alert", realAlertBody, "alarm: dimensions has no instanceId"},
		{"§1.3 quoted real API Gateway recovery", realOKBody, "alarm: dimensions has no instanceId"},
		{"bad escape", "alertState=ALERT&dimensions=%zz", `alarm: form field dimensions: invalid URL escape "%zz"`},
		{"bad escape in a name", "alert%zzState=ALERT", `alarm: form field name "alert%zzState": invalid URL escape "%zz"`},
		{"alertState missing", `{"curValue":"1","dimensions":"{instanceId=i-1}"}`, "alarm: alertState is missing"},
		{"alertState unknown", callback(`"alertState":"FIRING"`), `alarm: alertState "FIRING" is not ALERT, OK, INSUFFICIENT_DATA or NO_DATA`},
		{"dimensions missing", callback(`"other":1`), "alarm: dimensions is missing"},
		{"dimensions null", callback(`"dimensions":"null"`), "alarm: dimensions is missing"},
		{"dimensions without instance", callback(`"dimensions":"{userId=1}"`), "alarm: dimensions has no instanceId"},
		{"dimensions bad JSON list", callback(`"dimensions":"[1,"`), `alarm: dimensions "[1," is not a JSON list of objects: unexpected end of JSON input`},
		{"dimensions bad JSON object", callback(`"dimensions":"{\"instanceId\":"`), `alarm: dimensions "{\"instanceId\":" is not a JSON object: unexpected end of JSON input`},
		{"dimensions name two instances", callback(`"dimensions":[{"instanceId":"i-1"},{"instanceId":"i-2"}]`), `alarm: dimensions has two values for instanceId, "i-1" and "i-2"`},
		{"dimensions name two instances as a map", callback(`"dimensions":"{instanceId=i-1, instanceId=i-2}"`), `alarm: dimensions has two values for instanceId, "i-1" and "i-2"`},
		{"dimensions a lone brace", callback(`"dimensions":"{"`), "alarm: dimensions has no instanceId"},
		{"curLevel missing", `{"resources":"{\"instanceId\":\"i-1\"}"}`, "alarm: curLevel is missing"},
		{"resources bad JSON", `{"curLevel":"OK","resources":"[x"}`, `alarm: resources "[x" is not a JSON list of objects: invalid character 'x' looking for beginning of value`},
		{"instance ID with a space", callback(`"dimensions":"{instanceId=i-1 2}"`), `alarm: instanceId "i-1 2" holds a character that is not printable ASCII`},
		{"instance ID too long", callback(`"dimensions":"{instanceId=` + long + `` + long + `}"`), `alarm: instanceId "` + strings.Repeat("x", 64) + `"... is longer than 128 bytes`},
		{"metricName missing", `{"alertState":"OK","curValue":"1","dimensions":"{instanceId=i-1}","timestamp":"1"}`, "alarm: metricName is missing"},
		{"curValue missing", callback(`"curValue":"","dimensions":"{instanceId=i-1}"`), "alarm: curValue is missing"},
		{"curValue not a number", callback(`"curValue":"abc","dimensions":"{instanceId=i-1}"`), `alarm: curValue "abc" is not a number`},
		{"curValue NaN", callback(`"curValue":"NaN","dimensions":"{instanceId=i-1}"`), `alarm: curValue "NaN" is not a finite number`},
		{"curValue overflows", callback(`"curValue":1e999,"dimensions":"{instanceId=i-1}"`), `alarm: curValue "1e999" is not a finite number`},
		{"curValue negative", callback(`"curValue":"-1","dimensions":"{instanceId=i-1}"`), `alarm: curValue "-1" is negative`},
		{"timestamp missing", callback(`"timestamp":"null","dimensions":"{instanceId=i-1}"`), "alarm: timestamp is missing"},
		{"timestamp negative", callback(`"timestamp":-5,"dimensions":"{instanceId=i-1}"`), `alarm: timestamp "-5" is out of range`},
		{"timestamp far future", callback(`"timestamp":1e15,"dimensions":"{instanceId=i-1}"`), `alarm: timestamp "1e15" is out of range`},
		{"timestamp text", callback(`"timestamp":"yesterday","dimensions":"{instanceId=i-1}"`), `alarm: timestamp "yesterday" is neither epoch seconds, epoch milliseconds nor RFC 3339`},
		{"curLevel unknown", ruleTarget(`"curLevel":"P4"`), `alarm: curLevel "P4" is not CRITICAL, WARN, INFO, OK or INSUFFICIENT_DATA`},
		{"resources without instance", `{"curLevel":"WARN","resources":"{}","metricData":{"Average":1}}`, "alarm: resources has no instanceId"},
		{"metricData not an object", ruleTarget(`"metricData":"[1]"`), "alarm: metricData is not a JSON object: json: cannot unmarshal array into Go value of type map[string]alarm.text"},
		{"metricData missing", ruleTarget(`"other":1`), "alarm: metricData.Average is missing"},
		{"statistic missing", ruleTarget(`"escalation":{"statistics":"Maximum"},"metricData":{"Average":1}`), "alarm: metricData.Maximum is missing"},
		{"escalation not an object", ruleTarget(`"escalation":"x","metricData":{"Average":1}`), "alarm: escalation is not a JSON object: invalid character 'x' looking for beginning of value"},
		{"rule target time missing", `{"curLevel":"WARN","resources":"{\"instanceId\":\"i-1\"}","metricName":"m","metricData":{"Average":1}}`, "alarm: time is missing"},
		{"rule target metricName missing", `{"curLevel":"WARN","resources":"{\"instanceId\":\"i-1\"}","metricData":{"Average":1}}`, "alarm: metricName is missing"},
		{"§2(b) quoted EventBridge non-alert", eventBridgeMeeting, `alarm: eventbridge event of type "aliyuncvc:MeetingEvent:MemberOperate" is not a CloudMonitor alert (type "cms:CloudMonitor:AlertWebHook")`},
		{"EventBridge without type", `{"specversion":"1.0","id":"e","source":"acs.cms","data":` + callback(`"dimensions":"{instanceId=i-1}"`) + `}`, `alarm: eventbridge event of type "" is not a CloudMonitor alert (type "cms:CloudMonitor:AlertWebHook")`},
		{"EventBridge agent event", `{"specversion":"1.0","id":"e","source":"acs.cms","type":"cms:CloudMonitor:AgentStatusStopped","data":{}}`, `alarm: eventbridge event of type "cms:CloudMonitor:AgentStatusStopped" is not a CloudMonitor alert (type "cms:CloudMonitor:AlertWebHook")`},
		{"EventBridge without data", `{"specversion":"1.0","id":"e","type":"cms:CloudMonitor:AlertWebHook"}`, `alarm: eventbridge event "e" has no data`},
		{"EventBridge data is a list", `{"specversion":"1.0","id":"e","type":"cms:CloudMonitor:AlertWebHook","data":[1]}`, "alarm: eventbridge data is a JSON list, not an object"},
		{"EventBridge data is text", `{"specversion":"1.0","id":"e","type":"cms:CloudMonitor:AlertWebHook","data":"hello"}`, "alarm: eventbridge data is neither JSON nor an alert callback form"},
		{"EventBridge data bad", `{"specversion":"1.0","id":"e","type":"cms:CloudMonitor:AlertWebHook","data":{"alertState":"ALERT"}}`, "alarm: eventbridge data: dimensions is missing"},
		{"EventBridge data nests an event", `{"specversion":"1.0","id":"e","type":"cms:CloudMonitor:AlertWebHook","data":{"specversion":"1.0"}}`, `alarm: eventbridge event "e" carries no alert: its data has none of the alert callback's alertState, dimensions, alertName or curValue`},
		{"EventBridge data is a rule target", `{"specversion":"1.0","id":"e","type":"cms:CloudMonitor:AlertWebHook","data":` + ruleTarget(`"metricData":{"Average":1}`) + `}`, `alarm: eventbridge event "e" carries no alert: its data has none of the alert callback's alertState, dimensions, alertName or curValue`},
		{"EventBridge bad time", `{"specversion":"1.0","id":"e","type":"cms:CloudMonitor:AlertWebHook","time":"now","data":{"alertState":"ALERT","curValue":1,"metricName":"m","dimensions":"{instanceId=i-1}"}}`, `alarm: eventbridge time "now" is neither epoch seconds, epoch milliseconds nor RFC 3339`},
		{"EventBridge without any time", `{"specversion":"1.0","id":"e","type":"cms:CloudMonitor:AlertWebHook","data":{"alertState":"ALERT","curValue":1,"metricName":"m","dimensions":"{instanceId=i-1}"}}`, `alarm: eventbridge event has neither data.timestamp nor time`},
		{"empty list", "[]", "alarm: list is empty"},
		{"broken list", "[{}", "alarm: list is not valid JSON: unexpected end of JSON input"},
		{"too many items", "[" + strings.Repeat("{},", MaxAlarms) + "{}]", "alarm: list holds 1001 items, more than the 1000 allowed"},
		{"list item not an object", `[` + constructedJSON + `, 1]`, "alarm: item 1: list item is a JSON number, not an object"},
		{"nested list", `[[]]`, "alarm: item 0: list item is a JSON list, not an object"},
		{"list item bad", `[{"alertState":"ALERT"}]`, "alarm: item 0: dimensions is missing"},
		{"manual in a list", `[{"instanceId":"i-1","bandwidthOut":1}]`, "alarm: item 0: list item is a manual invocation, which may only be the whole payload or HTTP body"},
		{"timer in a list", `[{"triggerTime":"x"}]`, "alarm: item 0: list item is a timer event, which may only be the whole payload or HTTP body"},
		{"action in a list", `[{"action":"reconcile"}]`, "alarm: item 0: list item is an action, which may only be the whole payload or HTTP body"},
		{"HTTP in a list", `[` + httpConstructed + `]`, "alarm: item 0: list item is an HTTP trigger event, which only the payload itself may be"},
		{"unknown action", `{"action":"scale"}`, `alarm: action "scale" is not supported; the actions are "reconcile" and "status"`},
		{"manual without instance", `{"bandwidthOut":5}`, "alarm: instanceId is missing"},
		{"manual without bandwidth", `{"instanceId":"i-1"}`, "alarm: bandwidthOut is missing"},
		{"manual bandwidth null", `{"instanceId":"i-1","bandwidthOut":null}`, "alarm: bandwidthOut is missing"},
		{"manual bandwidth text", `{"instanceId":"i-1","bandwidthOut":"lots"}`, `alarm: bandwidthOut "lots" is not a number`},
		{"manual bandwidth boolean", `{"instanceId":"i-1","bandwidthOut":true}`, `alarm: bandwidthOut "true" is not a number`},
		{"manual bandwidth fraction", `{"instanceId":"i-1","bandwidthOut":20.5}`, `alarm: bandwidthOut "20.5" is not a whole number of Mbit/s`},
		{"manual bandwidth negative", `{"instanceId":"i-1","bandwidthOut":-1}`, `alarm: bandwidthOut "-1" is negative`},
		{"manual bandwidth huge", `{"instanceId":"i-1","bandwidthOut":1e300}`, `alarm: bandwidthOut "1e300" is out of range`},
		{"manual bandwidth NaN", `{"instanceId":"i-1","bandwidthOut":"NaN"}`, `alarm: bandwidthOut "NaN" is not a whole number of Mbit/s`},
		{"manual bad dryRun", `{"instanceId":"i-1","bandwidthOut":1,"dryRun":"maybe"}`, `alarm: dryRun "maybe" is not true or false`},
		{"manual bad instance", `{"instanceId":"i-\u00e9","bandwidthOut":1}`, `alarm: instanceId "i-é" holds a character that is not printable ASCII`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.payload), testOpts)
			if got != nil {
				t.Errorf("got delivery %+v, want none", got)
			}
			if err == nil || err.Error() != tt.err {
				t.Errorf("got error\n%v\nwant\n%s", err, tt.err)
			}
		})
	}
}

// An HTTP trigger event whose body is bad still yields the request, so that
// the caller can answer 401 to a wrong token before 400.
func TestDecodeHTTPWithBadBody(t *testing.T) {
	tests := []struct {
		name, payload, err string
		want               *HTTPRequest
	}{
		{
			name: "§2(c) quoted FC sample with a text body", payload: httpHelloFC,
			err: "alarm: HTTP body is neither JSON nor an alert callback form",
			want: &HTTPRequest{Method: "GET", Path: "/example", SourceIP: "11.11.11.**",
				Query:   map[string]string{"parameter1": "value1", "parameter2": "value1,value2"},
				Headers: map[string]string{"header1": "value1", "header2": "value1,value2"}},
		},
		{
			name: "empty body", payload: `{"requestContext":{"http":{"method":"POST"}},"body":""}`,
			err: "alarm: HTTP body is empty", want: &HTTPRequest{Method: "POST"},
		},
		{
			name: "bad base64", payload: `{"rawPath":"/x","body":"!!","isBase64Encoded":true}`,
			err: "alarm: HTTP body is not valid base64: illegal base64 data at input byte 0", want: &HTTPRequest{Path: "/x"},
		},
		{
			name: "bad isBase64Encoded", payload: `{"body":"x","isBase64Encoded":"sometimes"}`,
			err: `alarm: isBase64Encoded "sometimes" is not true or false`, want: &HTTPRequest{},
		},
		{
			name: "body holds another HTTP event", payload: string(httpEvent(t, httpConstructed, false)),
			err: "alarm: HTTP body is an HTTP trigger event, which only the payload itself may be", want: sdkHTTPRequest,
		},
		{
			name: "body holds a bad alarm", payload: string(httpEvent(t, realAlertBody, true)),
			err: "alarm: dimensions has no instanceId", want: sdkHTTPRequest,
		},
		{
			name: "body holds a bad list item", payload: string(httpEvent(t, "["+constructedJSON+",{}]", false)),
			err:  "alarm: item 1: list item is a JSON object of no known shape: it has none of alertState, dimensions, curLevel, resources, specversion, requestContext, triggerTime, action, instanceId or bandwidthOut",
			want: sdkHTTPRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.payload), testOpts)
			if err == nil || err.Error() != tt.err {
				t.Errorf("got error\n%v\nwant\n%s", err, tt.err)
			}
			if got == nil {
				t.Fatal("got no delivery, want one with the HTTP request")
			}
			assertDelivery(t, got, &Delivery{HTTP: tt.want})
		})
	}
}

func TestHeadersDifferingInCase(t *testing.T) {
	payload := `{"body":"x","headers":{"X-Token":"b","x-token":"a","X-TOKEN":"c"}}`
	for range 20 { // map order varies between runs; the result must not
		got, _ := Decode([]byte(payload), testOpts)
		if got == nil || got.HTTP.Headers["x-token"] != "c" || len(got.HTTP.Headers) != 1 {
			t.Fatalf("got %+v, want the first name in byte order (X-TOKEN) to win", got.HTTP)
		}
	}
}

func decodeOne(t *testing.T, payload string) Alarm {
	t.Helper()
	d, err := Decode([]byte(payload), testOpts)
	if err != nil {
		t.Fatalf("Decode(%.60s...): %v", payload, err)
	}
	if len(d.Alarms) != 1 {
		t.Fatalf("got %d alarms, want 1", len(d.Alarms))
	}
	return d.Alarms[0]
}

// TestKeys checks that a key is the same for every redelivery of an alarm
// and different for a new alarm, whatever the transport.
func TestKeys(t *testing.T) {
	callbackJSON := func(state, level, ts, transID string) string {
		return fmt.Sprintf(`{"alertState":%q,"triggerLevel":%q,"timestamp":%q,"transId":%q,"signature":%q,`+
			`"ruleId":"r1","curValue":"90","metricName":"m","dimensions":"{instanceId=i-1}"}`, state, level, ts, transID, transID)
	}
	eventBridge := func(id, ts string) string {
		return fmt.Sprintf(`{"specversion":"1.0","source":"acs.cms","id":%q,"type":"cms:CloudMonitor:AlertWebHook","data":`+
			`{"alertState":"ALERT","triggerLevel":"WARN","ruleId":"r1","curValue":"90","metricName":"m","dimensions":"{instanceId=i-1}","timestamp":%q}}`, id, ts)
	}
	ruleTarget := func(level, tm, batch string) string {
		return fmt.Sprintf(`{"ruleId":"r1","curLevel":%q,"time":%s,"batchId":%q,"resources":"{\"instanceId\":\"i-1\"}",`+
			`"metricName":"m#60","metricData":{"Average":1}}`, level, tm, batch)
	}
	first := callbackJSON("ALERT", "WARN", "1717000000000", "t1")
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"callback retry with new transId and signature", first, callbackJSON("ALERT", "WARN", "1717000000000", "t2"), true},
		{"callback: legacy ALARM is ALERT", first, callbackJSON("ALARM", "WARN", "1717000000000", "t1"), true},
		{"callback in seconds and milliseconds", callbackJSON("ALERT", "WARN", "1717000000", "t1"), first, true},
		{"callback as JSON and as form", first, "alertState=ALERT&triggerLevel=WARN&timestamp=1717000000000&ruleId=r1&curValue=90&metricName=m&dimensions=%7BinstanceId%3Di-1%7D", true},
		{"callback: later timestamp", first, callbackJSON("ALERT", "WARN", "1717000060000", "t1"), false},
		{"callback: other state", first, callbackJSON("OK", "WARN", "1717000000000", "t1"), false},
		{"callback: the same moment at another level", first, callbackJSON("ALERT", "CRITICAL", "1717000000000", "t1"), true},
		{"callback: other metric", first, strings.Replace(first, `"metricName":"m"`, `"metricName":"InternetOutRate"`, 1), false},
		{"callback: other instance", first, strings.Replace(first, "i-1", "i-2", 1), false},
		{"callback: other rule", first, strings.Replace(first, `"r1"`, `"r2"`, 1), false},
		{"eventbridge redelivery", eventBridge("e1", "1717000000000"), eventBridge("e1", "1717000000000"), true},
		{"eventbridge: the same alarm in another event", eventBridge("e1", "1717000000000"), eventBridge("e2", "1717000000000"), true},
		{"eventbridge: later timestamp", eventBridge("e1", "1717000000000"), eventBridge("e1", "1717000060000"), false},
		{"eventbridge and callback of the same alarm", eventBridge("e1", "1717000000000"), first, true},
		{"rule target redelivery", ruleTarget("WARN", "1717000000000", "b1"), ruleTarget("WARN", "1717000000000", "b2"), true},
		{"rule target: later time", ruleTarget("WARN", "1717000000000", "b1"), ruleTarget("WARN", "1717000060000", "b1"), false},
		{"rule target: other state", ruleTarget("WARN", "1717000000000", "b1"), ruleTarget("OK", "1717000000000", "b1"), false},
		{"rule target and callback of the same alarm", ruleTarget("WARN", "1717000000000", "b1"), first, true},
		{"parts do not run together", first, strings.Replace(strings.Replace(first, `"r1"`, `"r1i"`, 1), "i-1", "-1", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := decodeOne(t, tt.a), decodeOne(t, tt.b)
			if (a.Key == b.Key) != tt.same {
				t.Errorf("keys %s and %s: same = %v, want %v", a.Key, b.Key, a.Key == b.Key, tt.same)
			}
		})
	}
}

// TestEventFiles keeps the samples in events/ valid: each decodes to the
// kind and instance users copy it for.
func TestEventFiles(t *testing.T) {
	const instance = "i-postpaid-traffic"
	want := map[string]Kind{
		"callback-http.json": KindAlarm, "callback-http-base64.json": KindAlarm, "callback.json": KindAlarm,
		"eventbridge.json": KindAlarm, "rule-target.json": KindAlarm,
		"manual.json": KindManual, "manual-dry-run.json": KindManual,
		"timer.json": KindReconcile, "reconcile.json": KindReconcile, "status.json": KindStatus,
		"spike.json": KindAlarm, "spike-redelivery.json": KindAlarm, "spike-again.json": KindAlarm, "recovery.json": KindAlarm,
	}
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no event files: %v", err)
	}
	got := map[string]*Delivery{}
	for _, path := range files {
		name := filepath.Base(path)
		payload, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(payload, Options{DefaultRegion: "cn-hangzhou"})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		kind, ok := want[name]
		if !ok {
			t.Errorf("%s: no expectation; add it to this test", name)
			continue
		}
		if d.Kind != kind {
			t.Errorf("%s: kind %q, want %q", name, d.Kind, kind)
		}
		for _, a := range d.Alarms {
			if a.InstanceID != instance || a.Region != "cn-hangzhou" || a.Metric != MetricVPCInternetOutRatePercent {
				t.Errorf("%s: alarm for %s in %s on %s, want %s in cn-hangzhou on %s",
					name, a.InstanceID, a.Region, a.Metric, instance, MetricVPCInternetOutRatePercent)
			}
		}
		if d.Manual != nil && d.Manual.InstanceID != instance {
			t.Errorf("%s: manual for %s, want %s", name, d.Manual.InstanceID, instance)
		}
		if d.HTTP != nil && d.HTTP.Query["token"] != "change-me" {
			t.Errorf("%s: token %q, want change-me", name, d.HTTP.Query["token"])
		}
		got[name] = d
	}
	for name := range want {
		if got[name] == nil {
			t.Errorf("%s: missing or invalid", name)
		}
	}
	if t.Failed() {
		return
	}
	// The make run story.
	spike, redelivery, again, recovery := got["spike.json"].Alarms[0], got["spike-redelivery.json"].Alarms[0],
		got["spike-again.json"].Alarms[0], got["recovery.json"].Alarms[0]
	if spike.Key != redelivery.Key {
		t.Error("spike-redelivery.json has another key than spike.json")
	}
	if again.Key == spike.Key || !again.Time.After(spike.Time) || again.State != StateAlert {
		t.Error("spike-again.json is not a later, new ALERT")
	}
	if recovery.State != StateOK || !recovery.Time.After(again.Time) {
		t.Error("recovery.json is not a later OK")
	}
	if spike.Value != 96 || again.Value != 97 || recovery.Value != 8 {
		t.Errorf("values %v, %v, %v; want 96, 97, 8", spike.Value, again.Value, recovery.Value)
	}
	// One alarm, one key, whatever the route.
	if cb, eb := got["callback.json"].Alarms[0], got["eventbridge.json"].Alarms[0]; cb.Key != eb.Key {
		t.Errorf("callback.json and eventbridge.json carry the same alarm but keys %s and %s", cb.Key, eb.Key)
	}
	if !got["manual-dry-run.json"].Manual.DryRun || got["manual.json"].Manual.DryRun {
		t.Error("only manual-dry-run.json should be a dry run")
	}
}
