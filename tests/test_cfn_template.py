"""CloudFormation's template reading, intrinsic functions, conditions and parameters, as pure
functions (the evaluator the deployer uses)."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.protocol.errors import ServiceError
from sluice.services.cloudformation import parameters
from sluice.services.cloudformation.errors import TemplateError
from sluice.services.cloudformation.intrinsics import (
    Scope,
    evaluate_conditions,
    pseudo_parameters,
    resolve,
)
from sluice.services.cloudformation.plan import make_plan
from sluice.services.cloudformation.template import parse

PSEUDO = pseudo_parameters("123456789012", "eu-west-1", "demo", "arn:aws:cloudformation:eu-west-1:123456789012:stack/demo/x")


def scope(params: dict[str, Any] | None = None, **kw: Any) -> Scope:
    s = Scope(params or {}, PSEUDO, kw.get("mappings", {}), kw.get("conditions", {}))
    s.ref = lambda name: f"ref:{name}"
    s.get_att = lambda name, attr: f"att:{name}.{attr}"
    s.import_value = lambda name: f"import:{name}"
    return s


def test_yaml_short_tags_become_the_long_forms() -> None:
    doc = parse("""
AWSTemplateFormatVersion: 2010-09-09
Conditions:
  Cond: !Equals [a, b]
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      A: !Ref Param
      B: !GetAtt Other.Arn
      C: !Sub "${AWS::Region}-x"
      D: !Join [",", [a, !Select [1, !Split ["-", "x-y-z"]]]]
      E: !If [Cond, 1, !Ref AWS::NoValue]
      F: !FindInMap [M, k, v]
      G: !Base64 hi
      H: !GetAZs ""
      I: !ImportValue shared
      J: !Equals [a, b]
""")
    assert doc["AWSTemplateFormatVersion"] == "2010-09-09"  # a version string, not a date
    props = doc["Resources"]["Q"]["Properties"]
    assert props["A"] == {"Ref": "Param"}
    assert props["B"] == {"Fn::GetAtt": ["Other", "Arn"]}
    assert props["C"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert props["D"] == {"Fn::Join": [",", ["a", {"Fn::Select": [1, {"Fn::Split": ["-", "x-y-z"]}]}]]}
    assert props["E"] == {"Fn::If": ["Cond", 1, {"Ref": "AWS::NoValue"}]}
    assert props["F"] == {"Fn::FindInMap": ["M", "k", "v"]}
    assert props["I"] == {"Fn::ImportValue": "shared"}


def test_format_errors_are_validation_errors_in_aws_words() -> None:
    with pytest.raises(ServiceError) as err:
        parse("Resources: {}")
    assert (err.value.code, err.value.message) == (
        "ValidationError", "Template format error: At least one Resources member must be defined.")
    with pytest.raises(ServiceError) as err:
        parse('{"Resources": ')
    assert err.value.message.startswith("Template format error: JSON not well-formed.")
    with pytest.raises(ServiceError) as err:
        parse("Resources:\n  A: [\n")
    assert err.value.message.startswith("Template format error: YAML not well-formed.")
    with pytest.raises(ServiceError) as err:
        parse("Resourcez: {A: {Type: X}}")
    assert err.value.message == "Template format error: Invalid template property or properties [Resourcez]"


def test_intrinsic_functions() -> None:
    s = scope({"Env": "prod", "Ports": ["80", "443"]}, mappings={"M": {"prod": {"Size": 3}}},
              conditions={"IsProd": True})
    value = {
        "ref": {"Ref": "Bucket"}, "param": {"Ref": "Env"}, "pseudo": {"Ref": "AWS::AccountId"},
        "att": {"Fn::GetAtt": ["Fn", "Arn"]},
        "sub": {"Fn::Sub": "${AWS::StackName}-${Env}-${Bucket}-${Fn.Arn}-${!Literal}"},
        "sub_vars": {"Fn::Sub": ["${a}/${b}", {"a": "x", "b": {"Ref": "Env"}}]},
        "join": {"Fn::Join": [":", {"Ref": "Ports"}]},
        "select": {"Fn::Select": ["1", {"Ref": "Ports"}]},
        "split": {"Fn::Split": [",", "a,b"]},
        "if": {"Fn::If": ["IsProd", "big", "small"]},
        "novalue": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "x"]},
        "list": ["a", {"Ref": "AWS::NoValue"}, "b"],
        "map": {"Fn::FindInMap": ["M", {"Ref": "Env"}, "Size"]},
        "b64": {"Fn::Base64": "hello"},
        "azs": {"Fn::GetAZs": ""},
        "import": {"Fn::ImportValue": {"Fn::Sub": "${Env}-out"}},
        "cidr": {"Fn::Cidr": ["10.0.0.0/16", 3, 8]},
        "partition": {"Fn::Sub": "arn:${AWS::Partition}:s3:::x.${AWS::URLSuffix}"},
    }
    out = resolve(value, s)
    assert out == {
        "ref": "ref:Bucket", "param": "prod", "pseudo": "123456789012", "att": "att:Fn.Arn",
        "sub": "demo-prod-ref:Bucket-att:Fn.Arn-${Literal}", "sub_vars": "x/prod", "join": "80:443",
        "select": "443", "split": ["a", "b"], "if": "big", "list": ["a", "b"], "map": 3, "b64": "aGVsbG8=",
        "azs": ["eu-west-1a", "eu-west-1b", "eu-west-1c"], "import": "import:prod-out",
        "cidr": ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"], "partition": "arn:aws:s3:::x.amazonaws.com",
    }


def test_bad_intrinsics_raise_template_errors() -> None:
    with pytest.raises(TemplateError, match="Unable to get mapping for M::dev::Size"):
        resolve({"Fn::FindInMap": ["M", "dev", "Size"]}, scope(mappings={"M": {"prod": {"Size": 1}}}))
    with pytest.raises(TemplateError, match="Fn::Select cannot select nonexistent value at index 5"):
        resolve({"Fn::Select": [5, ["a"]]}, scope())


def test_conditions_use_parameters_and_each_other_in_any_order() -> None:
    conditions = {
        "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Not": [{"Condition": "IsUs"}]}]},
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsUs": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
        "Either": {"Fn::Or": [{"Condition": "IsUs"}, {"Fn::Equals": ["1", 1]}]},
    }
    assert evaluate_conditions(conditions, scope({"Env": "prod"})) == {
        "Both": True, "IsProd": True, "IsUs": False, "Either": True}


def test_plan_orders_by_ref_getatt_sub_and_dependson_and_drops_false_conditions() -> None:
    template = parse("""
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  C:
    Type: T
    Properties: {X: !Sub "${B.Arn}", Y: !Ref A}
  B:
    Type: T
    DependsOn: A
  A:
    Type: T
  OnlyProd:
    Type: T
    Condition: IsProd
Outputs:
  Out: {Value: !GetAtt C.Arn}
""")
    plan = make_plan(template, parameters.effective(template["Parameters"], None), PSEUDO)
    assert plan.order == ["A", "B", "C"]
    assert plan.deps["C"] == {"A", "B"}


def test_plan_refuses_unknown_references_and_cycles() -> None:
    with pytest.raises(ServiceError, match=r"Unresolved resource dependencies \[Nope\] in the Resources block"):
        make_plan(parse("Resources: {A: {Type: T, Properties: {X: !Ref Nope}}}"), {}, PSEUDO)
    with pytest.raises(ServiceError, match="Circular dependency between resources: \\[A, B\\]"):
        make_plan(parse("Resources: {A: {Type: T, DependsOn: B}, B: {Type: T, Properties: {X: !GetAtt A.Arn}}}"),
                  {}, PSEUDO)


def test_parameter_values_checks_and_noecho() -> None:
    decl = {
        "Name": {"Type": "String", "MinLength": 2, "AllowedPattern": "[a-z]+"},
        "Size": {"Type": "Number", "MinValue": 1, "MaxValue": 10, "Default": 5},
        "Env": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"},
        "Secret": {"Type": "String", "NoEcho": True, "Default": "hush"},
        "Ports": {"Type": "List<Number>", "Default": "80,443"},
        "Subnet": {"Type": "AWS::EC2::Subnet::Id", "Default": "subnet-1"},
    }
    values = parameters.effective(decl, [{"ParameterKey": "Name", "ParameterValue": "abc"}])
    assert values == {"Name": "abc", "Size": "5", "Env": "dev", "Secret": "hush", "Ports": "80,443",
                      "Subnet": "subnet-1"}
    assert parameters.typed(decl, values)["Ports"] == ["80", "443"]
    shown = {p["ParameterKey"]: p["ParameterValue"] for p in parameters.shown(decl, values)}
    assert shown["Secret"] == "****"
    cases = [
        ([], "Parameters: [Name] must have values"),
        ([{"ParameterKey": "Name", "ParameterValue": "a"}], "Parameter 'Name' must contain at least 2 characters"),
        ([{"ParameterKey": "Name", "ParameterValue": "ABC"}], "Parameter 'Name' must match pattern [a-z]+"),
        ([{"ParameterKey": "Name", "ParameterValue": "ab"}, {"ParameterKey": "Size", "ParameterValue": "11"}],
         "Parameter 'Size' must be a number not greater than 10"),
        ([{"ParameterKey": "Name", "ParameterValue": "ab"}, {"ParameterKey": "Env", "ParameterValue": "qa"}],
         "Parameter 'Env' must be one of AllowedValues"),
        ([{"ParameterKey": "Name", "ParameterValue": "ab"}, {"ParameterKey": "Nope", "ParameterValue": "x"}],
         "Parameters: [Nope] do not exist in the template"),
    ]
    for given, message in cases:
        with pytest.raises(ServiceError) as err:
            parameters.effective(decl, given)
        assert (err.value.code, err.value.message) == ("ValidationError", message)
    previous = parameters.effective(decl, [{"ParameterKey": "Name", "ParameterValue": "old"}], None)
    again = parameters.effective(decl, [{"ParameterKey": "Name", "UsePreviousValue": True}], previous)
    assert again["Name"] == "old"


def test_ssm_parameter_types_are_refused_clearly() -> None:
    with pytest.raises(ServiceError, match="SSM parameter types are not supported"):
        parameters.check_declarations({"Ami": {"Type": "AWS::SSM::Parameter::Value<String>"}})
    with pytest.raises(ServiceError, match="Unrecognized parameter type: Strin"):
        parameters.check_declarations({"X": {"Type": "Strin"}})
