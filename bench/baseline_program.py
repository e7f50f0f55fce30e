"""Baseline for ``make bench``: the same resource graph as ours, with hand-built JSON and nothing else.

Per service what a user without this project would write: a component, its ``alicloud.pai.Service``
(JSON written inline: no validation, sizing, templates or plan) and the same endpoint reader (the
dynamic resource is the graph's, not one of our layers), the component's outputs and the stack's
exports. One provider. The ratio ours/baseline is then what our own layers cost.
"""

import json

import pulumi
import pulumi_alicloud as alicloud

from components.endpoint import ServiceEndpoint

count = int(pulumi.Config("bench").require("count"))
provider = alicloud.Provider("alicloud-cn-hangzhou", region="cn-hangzhou")


class Service(pulumi.ComponentResource):
    token: pulumi.Output[str]

    def __init__(self, key: str) -> None:
        super().__init__("bench:eas:Service", key, None, None)
        name = f"{key}_bench"
        config = json.dumps({
            "metadata": {"name": name, "instance": 1, "rpc": {"keepalive": 600000}},
            "cloud": {"computing": {"instances": [{"type": "ml.gu7i.c16m60.1-gu30"}]}},
            "containers": [{
                "image": "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.11.2-mows0.5.1",
                "script": "vllm serve /model_dir --host 0.0.0.0 --port 8000 --served-model-name Qwen3-4B",
                "port": 8000,
            }],
            "storage": [{"mount_path": "/model_dir", "oss": {"path": "oss://bucket/Qwen3-4B/", "readOnly": True}}],
        }, sort_keys=True)
        self.service = alicloud.pai.Service(f"{key}-service", service_config=config,
                                            opts=pulumi.ResourceOptions(parent=self, provider=provider))
        self.endpoint = ServiceEndpoint(f"{key}-endpoint", region="cn-hangzhou", service_name=name,
                                        service_config=config,
                                        opts=pulumi.ResourceOptions(parent=self, depends_on=[self.service]))
        self.token = pulumi.Output.secret(self.endpoint.token)
        self.register_outputs({"serviceName": name, "status": self.service.status,
                               "internetEndpoint": self.endpoint.internetEndpoint,
                               "openaiBaseUrl": self.endpoint.openaiBaseUrl, "token": self.token})


created = {f"svc{i}": Service(f"svc{i}") for i in range(count)}
pulumi.export("services", {key: {"serviceName": f"{key}_bench", "openaiBaseUrl": svc.endpoint.openaiBaseUrl,
                                 "status": svc.service.status} for key, svc in created.items()})
pulumi.export("tokens", {key: svc.token for key, svc in created.items()})
