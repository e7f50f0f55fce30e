"""Baseline for ``make bench``: N bare ``alicloud.pai.Service`` resources with hand-built JSON.

What a user without this project would write: no validation, no templates, one provider.
"""

import json

import pulumi
import pulumi_alicloud as alicloud

count = int(pulumi.Config("bench").require("count"))
provider = alicloud.Provider("alicloud", region="cn-hangzhou")
for i in range(count):
    config = {
        "metadata": {"name": f"svc{i}_bench", "instance": 1},
        "cloud": {"computing": {"instances": [{"type": "ml.gu7i.c16m60.1-gu30"}]}},
        "containers": [{
            "image": "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.11.2-mows0.5.1",
            "script": "vllm serve /model_dir --host 0.0.0.0 --port 8000 --served-model-name Qwen3-8B",
            "port": 8000,
        }],
        "storage": [{"mount_path": "/model_dir", "oss": {"path": "oss://bucket/Qwen3-8B/", "readOnly": True}}],
    }
    alicloud.pai.Service(f"svc{i}", service_config=json.dumps(config, sort_keys=True),
                         opts=pulumi.ResourceOptions(provider=provider))
