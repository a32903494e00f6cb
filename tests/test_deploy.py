"""The deployment files hold together: every manifest in deploy/kuberay/ against its schema (Kubernetes' own
definitions for core objects, deploy/kuberay/schema/rayservice.schema.json for the RayService), the Serve
config inside the RayService (and deploy/serve.yaml) against Ray Serve's own model, and the names, paths and
ports that tie them to voxlive."""

from __future__ import annotations

import copy
import importlib.util
import json
import tomllib
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import jsonschema
import kubernetes_validate
import pydantic
import pytest
import ray
import yaml
from ray.serve.schema import ServeDeploySchema
from referencing import Registry, Resource

from voxlive.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
KUBERAY = DEPLOY / "kuberay"
RAYSERVICE_SCHEMA = KUBERAY / "schema" / "rayservice.schema.json"
KUBERNETES_VERSION = "1.33"
"""The Kubernetes release whose API the core objects are checked against (strict: no unknown fields)."""

IMPORT_PATH = "voxlive.cluster.app:build_app"
INGRESS = "Gateway"
DEPLOYMENTS = {"Gateway", "STT", "LLM", "TTS"}

Manifest = dict[str, Any]


def load_manifests() -> list[tuple[str, Manifest]]:
    """Every object in deploy/kuberay/*.yaml, named ``file:Kind/name``."""
    found = []
    for path in sorted(KUBERAY.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((f"{path.name}:{document['kind']}/{document['metadata']['name']}", document))
    return found


MANIFESTS = load_manifests()


def only(kind: str) -> Manifest:
    (manifest,) = [document for _, document in MANIFESTS if document["kind"] == kind]
    return manifest


@cache
def rayservice_validator() -> jsonschema.Draft202012Validator:
    """Our RayService schema, its Kubernetes types resolved from kubernetes-validate's definitions."""
    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}.0-local-strict"
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry: Registry[Any] = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    schema = json.loads(RAYSERVICE_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def check_manifest(manifest: Manifest) -> None:
    """Raise ``jsonschema.ValidationError`` unless the object fits its schema (or a lookup error for a kind
    that has none)."""
    if manifest.get("apiVersion") == "ray.io/v1" and manifest.get("kind") == "RayService":
        rayservice_validator().validate(manifest)
        check_serve_config(yaml.safe_load(manifest["spec"]["serveConfigV2"]))
    else:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def _model_of(annotation: Any) -> type[pydantic.BaseModel] | None:
    """The pydantic model a field holds, alone, in a list or in a union (``Dict | AutoscalingConfig``)."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    if get_origin(annotation) in (list, Union, UnionType):
        for argument in get_args(annotation):
            if argument is not NoneType and (model := _model_of(argument)) is not None:
                return model
    return None


def unknown_fields(model: type[pydantic.BaseModel], data: Any, path: str = "") -> list[str]:
    """Keys that ``model`` (and the models inside it) does not have: Ray Serve ignores them silently, so a
    misspelt setting would be lost. Each nested model also validates its part."""
    if isinstance(data, list):
        return [key for index, item in enumerate(data) for key in unknown_fields(model, item, f"{path}[{index}]")]
    if not isinstance(data, dict):
        return []
    model.model_validate(data)
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    fields.update(model.model_fields)
    found = []
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            found.append(where)
        elif (inner := _model_of(fields[key].annotation)) is not None:
            found.extend(unknown_fields(inner, value, where))
    return found


def check_serve_config(config: dict[str, Any]) -> ServeDeploySchema:
    """Ray Serve's model of a config (``serve deploy``, ``serveConfigV2``) with no unknown keys, deploying
    voxlive's application and setting only its deployments (Serve refuses a name the application lacks)."""
    schema = ServeDeploySchema.model_validate(config)
    if unknown := unknown_fields(ServeDeploySchema, config):
        raise ValueError(f"Ray Serve has no such settings: {', '.join(unknown)}")
    (application,) = schema.applications
    if application.import_path != IMPORT_PATH:
        raise ValueError(f"the application is {application.import_path}, not {IMPORT_PATH}")
    if unknown := {deployment.name for deployment in application.deployments} - DEPLOYMENTS:
        raise ValueError(f"the application has no deployments {sorted(unknown)}, only {sorted(DEPLOYMENTS)}")
    return schema


def serve_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(only("RayService")["spec"]["serveConfigV2"])
    return config


def ray_pod_specs(rayservice: Manifest) -> list[dict[str, Any]]:
    """The pods of the head group and of each worker group."""
    cluster = rayservice["spec"]["rayClusterConfig"]
    return [group["template"]["spec"] for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]]


def ray_containers(rayservice: Manifest) -> list[dict[str, Any]]:
    """Each pod's Ray container: KubeRay takes the first."""
    return [spec["containers"][0] for spec in ray_pod_specs(rayservice)]


@pytest.mark.parametrize(("name", "manifest"), MANIFESTS, ids=[name for name, _ in MANIFESTS])
def test_manifest_matches_its_schema(name: str, manifest: Manifest) -> None:
    check_manifest(manifest)


def test_rayservice_schema_names_the_kuberay_release() -> None:
    schema = json.loads(RAYSERVICE_SCHEMA.read_text())
    assert schema["x-kuberay-version"] == "v1.7.0"
    assert schema["properties"]["apiVersion"] == {"const": "ray.io/v1"}


def test_cluster_runs_the_installed_ray() -> None:
    assert only("RayService")["spec"]["rayClusterConfig"]["rayVersion"] == ray.__version__


def test_serve_config_deploys_voxlive() -> None:
    schema = check_serve_config(serve_config())
    (application,) = schema.applications
    assert application.route_prefix == "/"
    assert {deployment.name for deployment in application.deployments} == DEPLOYMENTS
    for deployment in application.deployments:
        assert deployment.autoscaling_config is not None, deployment.name
        assert deployment.ray_actor_options is not None and deployment.ray_actor_options.num_cpus, deployment.name


def test_every_ray_pod_mounts_the_settings_the_application_reads() -> None:
    """Serve builds the application on any pod: each one has the Secret's TOML at the path the application's
    args name, and the TOML is valid voxlive settings."""
    rayservice, secret = only("RayService"), only("Secret")
    (application,) = serve_config()["applications"]
    config = Path(application["args"]["config"])
    for spec, container in zip(ray_pod_specs(rayservice), ray_containers(rayservice), strict=True):
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        (mount,) = [mount for mount in container["volumeMounts"] if config.parent == Path(mount["mountPath"])]
        assert volumes[mount["name"]]["secret"]["secretName"] == secret["metadata"]["name"]
    settings = Settings.model_validate(tomllib.loads(secret["stringData"][config.name]))
    assert settings.store.url is not None and settings.store.url.startswith("postgresql://")
    (gateway,) = [deployment for deployment in application["deployments"] if deployment["name"] == INGRESS]
    assert gateway["autoscaling_config"]["target_ongoing_requests"] < settings.server.max_sessions


def test_the_service_and_every_ray_container_use_the_serve_port() -> None:
    rayservice = only("RayService")
    port = serve_config()["http_options"]["port"]
    assert [entry["port"] for entry in rayservice["spec"]["serveService"]["spec"]["ports"]] == [port]
    for container in ray_containers(rayservice):
        assert {"name": "serve", "containerPort": port} in container["ports"]


def test_worker_groups_scale_within_their_bounds() -> None:
    for group in only("RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"]:
        assert group["minReplicas"] <= group.get("replicas", group["minReplicas"]) <= group["maxReplicas"]


def _set(path: str, value: Any) -> Callable[[Manifest], None]:
    """A change to a manifest: ``value`` at the dotted ``path`` (list indexes as numbers)."""

    def change(manifest: Manifest) -> None:
        *parents, last = path.split(".")
        node: Any = manifest
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value

    return change


def _drop(path: str) -> Callable[[Manifest], None]:
    """A change to a manifest: the field at the dotted ``path`` removed."""

    def change(manifest: Manifest) -> None:
        *parents, last = path.split(".")
        node: Any = manifest
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return change


def _serve(path: str, value: Any) -> Callable[[Manifest], None]:
    """A change to the Serve config inside a RayService."""

    def change(manifest: Manifest) -> None:
        config = yaml.safe_load(manifest["spec"]["serveConfigV2"])
        _set(path, value)(config)
        manifest["spec"]["serveConfigV2"] = yaml.safe_dump(config)

    return change


BROKEN = {
    "RayService: an unknown field": (
        "RayService",
        _set("spec.rayClusterConfig.workerGroupSpecs.0.maxReplica", 3),
        "'maxReplica' was unexpected",
    ),
    "RayService: a count as text": (
        "RayService",
        _set("spec.rayClusterConfig.workerGroupSpecs.0.minReplicas", "1"),
        "'1' is not of type 'integer'",
    ),
    "RayService: an enum": ("RayService", _set("spec.upgradeStrategy.type", "Rolling"), "'Rolling' is not one of"),
    "RayService: a required field": (
        "RayService",
        _drop("spec.rayClusterConfig.workerGroupSpecs.0.groupName"),
        "'groupName' is a required property",
    ),
    "RayService: a Ray start parameter as a number": (
        "RayService",
        _set("spec.rayClusterConfig.headGroupSpec.rayStartParams.num-cpus", 0),
        "0 is not of type 'string'",
    ),
    "RayService: an unknown container field": (
        "RayService",
        _set("spec.rayClusterConfig.headGroupSpec.template.spec.containers.0.imagePolicy", "Always"),
        "'imagePolicy' was unexpected",
    ),
    "RayService: a port as text": (
        "RayService",
        _set("spec.rayClusterConfig.workerGroupSpecs.0.template.spec.containers.0.ports.0.containerPort", "8000"),
        "'8000' is not of type 'integer'",
    ),
    "RayService: the Service's ports": (
        "RayService",
        _set("spec.serveService.spec.ports", {"port": 8000}),
        "is not of type 'array'",
    ),
    "Serve: an unknown deployment setting": (
        "RayService",
        _serve("applications.0.deployments.1.num_cpus", 1),
        r"deployments\[1\]\.num_cpus",
    ),
    "Serve: an unknown actor option": (
        "RayService",
        _serve("applications.0.deployments.1.ray_actor_options.cpus", 1),
        r"ray_actor_options\.cpus",
    ),
    "Serve: an unknown autoscaling setting": (
        "RayService",
        _serve("applications.0.deployments.0.autoscaling_config.target_requests", 5),
        r"autoscaling_config\.target_requests",
    ),
    "Serve: a replica count as text": (
        "RayService",
        _serve("applications.0.deployments.0.num_replicas", "many"),
        "`num_replicas` must be an int",
    ),
    "Serve: a renamed deployment": (
        "RayService",
        _serve("applications.0.deployments.3.name", "Speech"),
        r"no deployments \['Speech'\]",
    ),
    "Serve: another application": (
        "RayService",
        _serve("applications.0.import_path", "voxlive.app:build"),
        "the application is voxlive.app:build",
    ),
    "Secret: data as a list": ("Secret", _set("stringData", ["voxlive.toml"]), "is not of type 'object'"),
    "Secret: an unknown field": ("Secret", _set("metadata.label", {"app": "voxlive"}), "'label' was unexpected"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_manifest_fails_the_check(case: str) -> None:
    kind, change, error = BROKEN[case]
    manifest = copy.deepcopy(only(kind))
    check_manifest(copy.deepcopy(manifest))
    change(manifest)
    with pytest.raises((jsonschema.ValidationError, pydantic.ValidationError, ValueError), match=error):
        check_manifest(manifest)


@pytest.mark.skipif(not (DEPLOY / "serve.yaml").exists(), reason="no deploy/serve.yaml")
def test_serve_yaml_deploys_voxlive() -> None:
    check_serve_config(yaml.safe_load((DEPLOY / "serve.yaml").read_text()))


@pytest.mark.skipif(importlib.util.find_spec("voxlive.cluster") is None, reason="no voxlive.cluster")
def test_application_builds_the_deployments_the_config_names(tmp_path: Path) -> None:
    """Serve builds the application from the manifest's args (the settings file written here) into the
    deployments its config names, with the Gateway as ingress."""
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve._private.build_app import build_app

    from voxlive.cluster.app import build_app as voxlive_app

    (application,) = serve_config()["applications"]
    settings = tmp_path / "voxlive.toml"
    settings.write_text(only("Secret")["stringData"][Path(application["args"]["config"]).name])
    app = call_user_app_builder_with_args_if_necessary(voxlive_app, {**application["args"], "config": str(settings)})
    built = build_app(app, name=application["name"])
    assert built.ingress_deployment_name == INGRESS
    assert {deployment.name for deployment in built.deployments} == DEPLOYMENTS
