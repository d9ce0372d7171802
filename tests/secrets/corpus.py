"""Planted secrets: one or more samples of every built-in rule, each in the kind of file it
leaks from, made up at test time (random values from a fixed seed, real key pairs from
``cryptography``), so no secret-looking string is committed.

``samples()`` gives (rule id, path in the image without the leading /, content, line of
the secret). The same samples are planted in a directory, in images assembled in memory
and in the corpus image the real builder makes (tests/secrets/test_corpus.py)."""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"


@dataclass(frozen=True)
class Sample:
    rule: str
    path: str
    content: bytes
    line: int
    secret: str
    """The planted value, which must never appear in any output."""


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def s(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))


def _pem_rsa() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _pem_ec() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _openssh() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )


def _jwt(g: _Gen) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    head = part({"alg": "HS256", "typ": "JWT"})
    body = part({"sub": g.s(string.digits, 10), "name": "svc-" + g.s(string.ascii_lowercase, 6)})
    return f"{head}.{body}.{g.s(ALNUM + '-_', 43)}"


def _body(pem: bytes) -> str:
    # the value a private-key finding masks: the key's base64 body
    lines = pem.decode().strip().splitlines()
    return "".join(lines[1:-1])


def samples(seed: int = 22) -> list[Sample]:
    g = _Gen(seed)
    out: list[Sample] = []

    def add(rule: str, path: str, text: str | bytes, secret: str, line: int = 1) -> None:
        data = text.encode() if isinstance(text, str) else text
        out.append(Sample(rule, path, data, line, secret))

    rsa_pem, ec_pem, ssh = _pem_rsa(), _pem_ec(), _openssh()
    add("private-key", "etc/ssl/private/server.key", rsa_pem, _body(rsa_pem))
    add("private-key", "srv/app/certs/signing.pem", b"# signing key\n" + ec_pem, _body(ec_pem), 2)
    add("private-key-openssh", "root/.ssh/id_ed25519", ssh, _body(ssh))
    pgp = "\n".join(g.s(B64, 64) for _ in range(12))
    add(
        "private-key-pgp",
        "root/.gnupg/backup-secret.asc",
        f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{pgp}\n={g.s(B64, 4)}\n"
        "-----END PGP PRIVATE KEY BLOCK-----\n",
        pgp.replace("\n", ""),
    )
    akid = "AKIA" + g.s(UPPER, 16)
    asak = g.s(B64, 40)
    add(
        "aws-access-key-id",
        "root/.aws/credentials",
        f"[default]\naws_access_key_id = {akid}\naws_secret_access_key = {asak}\n",
        akid,
        2,
    )
    add(
        "aws-secret-access-key",
        "root/.aws/credentials",
        f"[default]\naws_access_key_id = {akid}\naws_secret_access_key = {asak}\n",
        asak,
        3,
    )
    gcp_key = _pem_rsa().decode().replace("\n", "\\n")
    gcp = (
        '{\n  "type": "service_account",\n  "project_id": "acme-prod",\n'
        f'  "private_key_id": "{g.s(HEX, 40)}",\n  "private_key": "{gcp_key}",\n'
        '  "client_email": "deployer@acme-prod.iam.gserviceaccount.com"\n}\n'
    )
    add("gcp-service-account", "srv/app/gcp-key.json", gcp, "service_account", 2)
    add("private-key", "srv/app/gcp-key.json", gcp, gcp_key.split("-----")[2].strip("\\n"), 5)
    api = "AIza" + g.s(ALNUM + "_-", 35)
    add("gcp-api-key", "srv/app/static/maps.js", f'const mapsKey = "{api}";\n', api)
    acct = g.s(B64, 86) + "=="
    add(
        "azure-storage-account-key",
        "srv/app/appsettings.json",
        '{\n  "Storage": "DefaultEndpointsProtocol=https;AccountName=acmeprod;'
        f'AccountKey={acct};EndpointSuffix=core.windows.net"\n}}\n',
        acct,
        2,
    )
    entra = g.s(ALNUM, 3) + "8Q~" + g.s(ALNUM + "_-", 34)
    add("azure-entra-client-secret", "srv/app/azure.yaml", f"client_secret: {entra}\n", entra)
    sig = g.s(ALNUM, 43) + "%3D"
    add(
        "azure-sas-token",
        "srv/app/blob-url.txt",
        "https://acmeprod.blob.core.windows.net/exports/db.bak?sv=2022-11-02&ss=b&srt=o"
        f"&sp=r&se=2027-01-01T00:00:00Z&sig={sig}\n",
        sig,
    )
    tokens = {
        "github-pat": "ghp_" + g.s(ALNUM, 36),
        "github-oauth": "gho_" + g.s(ALNUM, 36),
        "github-app-token": "ghs_" + g.s(ALNUM, 36),
        "github-refresh-token": "ghr_" + g.s(ALNUM, 76),
        "github-fine-grained-pat": f"github_pat_{g.s(ALNUM, 22)}_{g.s(ALNUM, 59)}",
    }
    script = "#!/bin/sh\n" + "".join(f"export GH_{i}={t}\n" for i, t in enumerate(tokens.values()))
    for n, (rule, token) in enumerate(tokens.items()):
        add(rule, "srv/app/ci/publish.sh", script, token, n + 2)
    glpat = "glpat-" + g.s(ALNUM + "_-", 20)
    add("gitlab-pat", "srv/app/.gitlab-token", glpat + "\n", glpat)
    glrt = "glrt-" + g.s(ALNUM + "_-", 20)
    add(
        "gitlab-runner-token",
        "etc/gitlab-runner/config.toml",
        f'[[runners]]\n  url = "https://gitlab.acme.io"\n  token = "{glrt}"\n',
        glrt,
        3,
    )
    npm = "npm_" + g.s(ALNUM, 36)
    add("npm-access-token", "srv/app/publish.env.sh", f"NPM_TOKEN={npm}\n", npm)
    legacy = f"{g.s(HEX, 8)}-{g.s(HEX, 4)}-{g.s(HEX, 4)}-{g.s(HEX, 4)}-{g.s(HEX, 12)}"
    add(
        "npmrc-credentials",
        "root/.npmrc",
        f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={legacy}\n",
        legacy,
        2,
    )
    pypi = "pypi-AgEIcHlwaS5vcmc" + g.s(ALNUM + "_-", 70)
    add("pypi-upload-token", "srv/app/release.cfg", f"[upload]\ntoken = {pypi}\n", pypi, 2)
    pw = g.s(ALNUM, 18)
    add(
        "pypirc-password",
        "root/.pypirc",
        f"[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = acme\npassword = {pw}\n",
        pw,
        6,
    )
    gem = "rubygems_" + g.s(HEX, 48)
    add("rubygems-api-token", "root/.gem/credentials", f"---\n:rubygems_api_key: {gem}\n", gem, 2)
    hf = "hf_" + g.s(ALNUM, 34)
    add("hugging-face-access-token", "srv/app/model.py", f'HF_TOKEN = "{hf}"\n', hf)
    slack = f"xoxb-{g.s(string.digits, 12)}-{g.s(string.digits, 12)}-{g.s(ALNUM, 24)}"
    hook = f"T{g.s(UPPER, 8)}/B{g.s(UPPER, 8)}/{g.s(ALNUM, 24)}"
    notify = f'SLACK_TOKEN = "{slack}"\nWEBHOOK = "https://hooks.slack.com/services/{hook}"\n'
    add("slack-access-token", "srv/app/notify.py", notify, slack)
    add("slack-web-hook", "srv/app/notify.py", notify, hook, 2)
    sk = "sk_live_" + g.s(ALNUM, 24)
    pk = "pk_live_" + g.s(ALNUM, 24)
    billing = f'const stripe = require("stripe")("{sk}");\nconst publishable = "{pk}";\n'
    add("stripe-secret-token", "srv/app/billing.js", billing, sk)
    add("stripe-publishable-token", "srv/app/billing.js", billing, pk, 2)
    sg = f"SG.{g.s(ALNUM + '_-', 22)}.{g.s(ALNUM + '_-', 43)}"
    add("sendgrid-api-token", "srv/app/mail.py", f'SENDGRID_KEY = "{sg}"\n', sg)
    oai = f"sk-proj-{g.s(ALNUM, 48)}T3BlbkFJ{g.s(ALNUM, 48)}"
    add("openai-api-key", "srv/app/assistant.py", f'client = OpenAI(api_key="{oai}")\n', oai)
    age = "AGE-SECRET-KEY-1" + g.s("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)
    public = "age1" + g.s("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58)
    add(
        "age-secret-key",
        "root/.config/sops/age/keys.txt",
        f"# created: 2026-11-02\n# public key: {public}\n{age}\n",
        age,
        3,
    )
    jwt = _jwt(g)
    add("jwt-token", "srv/app/session.txt", f"Authorization: Bearer {jwt}\n", jwt)
    auth = base64.b64encode(f"deploy:{g.s(ALNUM, 20)}".encode()).decode()
    add(
        "docker-config-auth",
        "root/.docker/config.json",
        '{\n  "auths": {\n    "registry.acme.io": {\n'
        f'      "auth": "{auth}"\n    }}\n  }}\n}}\n',
        auth,
        4,
    )
    pull = base64.b64encode(json.dumps({"auths": {"registry.acme.io": {"auth": auth}}}).encode())
    add(
        "dockerconfig-secret",
        "srv/app/k8s/pull-secret.yaml",
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n"
        f"  .dockerconfigjson: {pull.decode()}\n",
        pull.decode(),
        5,
    )
    gitpw = g.s(ALNUM, 20)
    add(
        "git-credentials", "root/.git-credentials", f"https://acme-bot:{gitpw}@git.acme.io\n", gitpw
    )
    netpw = g.s(ALNUM, 16)
    add("netrc-password", "root/.netrc", f"machine git.acme.io login bot password {netpw}\n", netpw)
    dbpw = g.s(ALNUM, 16)
    add(
        "basic-auth-url",
        "srv/app/settings.py",
        f'DATABASES_URL = "postgres://app:{dbpw}@db.internal:5432/app"\n',
        dbpw,
    )
    envpw = g.s(ALNUM, 16)
    add("env-password", "srv/app/.env", f"DEBUG=0\nDB_PASSWORD={envpw}\n", envpw, 2)
    return out


def files(items: list[Sample]) -> dict[str, bytes]:
    """path -> content of the samples (samples sharing a file share its content)."""
    out: dict[str, bytes] = {}
    for s in items:
        assert out.get(s.path, s.content) == s.content, s.path
        out[s.path] = s.content
    return out
