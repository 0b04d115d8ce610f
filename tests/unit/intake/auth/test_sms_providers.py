"""The SMS providers' adapters against httpx.MockTransport: request shape, signatures against known vectors (the
providers' documented examples, and requests signed by their official Python SDKs), and how refusals map."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import pytest

from linli.errors import InvalidArgument, RateLimited, Unavailable
from linli.logs import JsonFormatter
from services.intake.auth.settings import SmsSettings
from services.intake.auth.sms_aliyun import AliyunSms, rpc_signature
from services.intake.auth.sms_tencent import TencentSms, tc3_signature

PHONE, CODE = "13800138000", "246810"
TENCENT_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
# 2025-12-06 05:46:40 UTC
TIMESTAMP = 1765000000


def test_tc3_signature_matches_tencent_clouds_documented_example() -> None:
    # "Signature v3" documentation: DescribeInstances on cvm, 2019-02-25, hashed canonical request 5ffe6a04….
    payload = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    signature = tc3_signature(
        TENCENT_KEY, host="cvm.tencentcloudapi.com", payload=payload, timestamp=1551113065, service="cvm"
    )
    assert signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_aliyun_rpc_signature_matches_the_sms_documentations_example() -> None:
    parameters = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert rpc_signature("testSecret", "GET", parameters) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def tencent_settings(**extra: object) -> SmsSettings:
    values = {
        "provider": "tencent",
        "secret_id": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "sdk_app_id": "1400000000",
        "sign_name": "邻里社区",
        "template_id": "1234567",
        **extra,
    }
    return SmsSettings.model_validate(values)


def aliyun_settings() -> SmsSettings:
    values = {"provider": "aliyun", "secret_id": "testId", "sign_name": "邻里社区", "template_id": "SMS_71390007"}
    return SmsSettings.model_validate(values)


def mock_client(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return httpx.Client(transport=httpx.MockTransport(handler))


def tencent_answer(status: dict[str, object]) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(200, json={"Response": {"SendStatusSet": [status], "RequestId": "r-1"}})


def tencent(seen: list[httpx.Request], answer: Callable[[httpx.Request], httpx.Response]) -> TencentSms:
    return TencentSms(mock_client(answer, seen), tencent_settings(), secret_key=TENCENT_KEY, clock=lambda: TIMESTAMP)


def test_tencent_sends_a_signed_sendsms_request() -> None:
    seen: list[httpx.Request] = []
    tencent(seen, tencent_answer({"Code": "Ok", "Message": "send success"})).send_code(PHONE, CODE)

    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == "https://sms.tencentcloudapi.com"
    assert json.loads(request.content) == {
        "PhoneNumberSet": ["+8613800138000"],
        "SmsSdkAppId": "1400000000",
        "SignName": "邻里社区",
        "TemplateId": "1234567",
        "TemplateParamSet": [CODE],
    }
    assert request.headers["X-TC-Action"] == "SendSms"
    assert request.headers["X-TC-Version"] == "2021-01-11"
    assert request.headers["X-TC-Timestamp"] == str(TIMESTAMP)
    assert request.headers["X-TC-Region"] == "ap-guangzhou"
    # The same request signed by tencentcloud-sdk-python-common 3.1.195 (_get_tc3_signature).
    assert request.headers["Authorization"] == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2025-12-06/sms/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=9ab1dbbda723b8bcd8960dab3b66877e28310d5bc362f08f499aac410d8bcd7e"
    )


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "bad"}, InvalidArgument),
        ({"Code": "LimitExceeded.PhoneNumberDailyLimit", "Message": "limit"}, RateLimited),
        ({"Code": "FailedOperation.SignatureIncorrectOrUnapproved", "Message": "sign"}, Unavailable),
    ],
)
def test_tencent_refusals_map_to_what_the_resident_can_do(answer: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        tencent([], tencent_answer(answer)).send_code(PHONE, CODE)


def test_tencent_api_errors_and_outages_are_unavailable_and_log_neither_code_nor_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth_error = {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"}, "RequestId": "r"}}

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(Unavailable):
            tencent([], lambda _: httpx.Response(200, json=auth_error)).send_code(PHONE, CODE)
        with pytest.raises(Unavailable):
            tencent([], down).send_code(PHONE, CODE)
        with pytest.raises(Unavailable):
            tencent([], lambda _: httpx.Response(502, text="<html>bad gateway</html>")).send_code(PHONE, CODE)
    written = "\n".join(JsonFormatter("intake").format(record) for record in caplog.records)
    assert "AuthFailure.SignatureFailure" in written
    assert PHONE not in written
    assert CODE not in written


def aliyun(seen: list[httpx.Request], answer: dict[str, object]) -> AliyunSms:
    return AliyunSms(
        mock_client(lambda _: httpx.Response(200, json=answer), seen),
        aliyun_settings(),
        secret_key="testSecret",  # noqa: S106 - the documented example's key
        timestamp=lambda: "2017-07-12T02:42:19Z",
        nonce=lambda: "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    )


def test_aliyun_sends_a_signed_sendsms_form() -> None:
    seen: list[httpx.Request] = []
    aliyun(seen, {"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"}).send_code(PHONE, CODE)

    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == "https://dysmsapi.aliyuncs.com/"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(request.content.decode()))
    assert form["Action"] == "SendSms"
    assert form["Version"] == "2017-05-25"
    assert form["Format"] == "JSON"
    assert form["PhoneNumbers"] == PHONE
    assert form["SignName"] == "邻里社区"
    assert form["TemplateCode"] == "SMS_71390007"
    assert json.loads(form["TemplateParam"]) == {"code": CODE}
    # The same parameters signed by aliyun-python-sdk-core 2.16.1 (rpc_signature_composer).
    assert form["Signature"] == "03BYhksQ2jgdtOE0WFTuz8NelHs="


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", InvalidArgument),
        ("isv.BUSINESS_LIMIT_CONTROL", RateLimited),
        ("isv.SMS_SIGNATURE_ILLEGAL", Unavailable),
    ],
)
def test_aliyun_refusals_map_to_what_the_resident_can_do(code: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        aliyun([], {"Code": code, "Message": "refused"}).send_code(PHONE, CODE)
