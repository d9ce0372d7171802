"""The built-in secret rules and allow rules.

Rule ids are trivy's where trivy has the same rule (so a ``.trivyignore`` written for
trivy applies), and new ids for what trivy does not look for: the credential files of
package managers and tools (``.npmrc``, ``.pypirc``, ``.netrc``, ``.docker/config.json``,
``.git-credentials``), passwords in URLs and ``.env``-style ``PASSWORD=`` lines. Each
expression is written from the format the issuer documents (a fixed prefix and an
alphabet and length) and bounded, so no input makes it backtrack for long. Rules that
match generic shapes (a password after ``=``) reject placeholders and, where the value
must be random, low entropy.

The allow rules follow trivy's built-in ones (test and example files, documentation,
the directories of system and language runtimes) so the two report the same kind of
file, plus values that are examples or placeholders in any file.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Final

from imageforge.secrets._model import PLACES, AllowRule, SecretRule

__all__ = ["BUILTIN_ALLOW_RULES", "BUILTIN_RULES", "is_placeholder"]

# A token ends where its alphabet does; it must not be the middle of a longer word. The
# left boundary (_B) is checked after the expression matched (SecretRule.before), so the
# expression starts with the token's literal prefix: Python's re finds a literal prefix
# 30 times faster than it tries a look-behind at every position.
_B: Final = rb"(?<![A-Za-z0-9_])"
_E: Final = rb"(?![A-Za-z0-9_])"
_WORD_START: Final = re.compile(rb"(?:^|[^A-Za-z0-9_])\Z")

_PLACEHOLDER: Final = re.compile(
    rb"""(?ix)
    ^(?:
        \$\{?[A-Za-z_][A-Za-z0-9_]*\}?      # ${TOKEN}, $TOKEN
      | \$\([^)]*\)                           # $(cat /run/secrets/x)
      | \{\{.*\}\} | \{[A-Za-z_][A-Za-z0-9_]*\} | %\([a-z_]+\)s | %s   # templates
      | <[^>]*> | \[[^\]]*\]                  # <password>, [password]
      | [*x.]{3,} | (?:xx|\*\*)[\w*]*          # ***, xxxx
      | (?:pass(?:word|wd)?|pwd|secret|changeme|change_me|changeit|default|admin|root
        |user(?:name)?|guest|test(?:ing)?|demo|sample|dummy|example|placeholder|redacted
        |none|null|nil|true|false|yes|no|empty|unset|todo|fixme|foo|bar|baz|qwerty
        |postgres|mysql|letmein|secret[_-]?key|my[_-]?(?:password|secret|token)
        |your[_-]?(?:password|secret|token|key)[\w-]*|(?:api|access)[_-]?(?:key|token))
    )$
    |^[0-9]+$                                  # a number (a length, a port)
    |^/(?:run|var/run)/secrets/                # a file holding the secret
    """
)


def is_placeholder(value: bytes) -> bool:
    """Whether ``value`` is a stand-in for a secret rather than one: a variable
    reference, a template, ``<password>``, ``***``, ``changeme``, a number, a path
    under ``/run/secrets``."""
    return _PLACEHOLDER.search(value.strip()) is not None


def _jwt(value: bytes) -> bool:
    """A JWT's header is base64url JSON naming its algorithm."""
    head = value.split(b".", 1)[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(head + b"=" * (-len(head) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(data, dict) and "alg" in data


def _docker_auth(value: bytes) -> bool:
    """A ``.docker/config.json`` ``auth`` is base64 of ``user:password``."""
    try:
        text = base64.b64decode(value + b"=" * (-len(value) % 4), validate=False)
    except (binascii.Error, ValueError):
        return False
    user, sep, password = text.partition(b":")
    return bool(sep and user and password)


def _pem_body(value: bytes) -> bool:
    """A key's body holds at least 32 base64 characters of some randomness (not
    ``...`` or ``MIIE...`` as documentation writes it)."""
    body = re.sub(rb"\\[nr]|[^A-Za-z0-9+/=]", b"", value)
    return len(body) >= 32 and len(set(body)) >= 16


def _rule(
    id: str,
    category: str,
    title: str,
    severity: str,
    regex: bytes,
    keywords: tuple[str, ...],
    **options: object,
) -> SecretRule:
    if regex.startswith(_B):
        regex = regex[len(_B) :]
        options["before"] = _WORD_START
    return SecretRule(
        id=id,
        category=category,
        title=title,
        severity=severity,
        regex=re.compile(regex),
        keywords=tuple(k.lower().encode() for k in keywords),
        **options,  # type: ignore[arg-type]
    )


_FILE_AND_ENV: Final = frozenset({"file", "env"})
_FILES: Final = frozenset({"file"})

# key = value, key: value, key => value, with optional quotes around the key
_ASSIGN: Final = rb"""["']?\s*(?::|=>|=)\s*["']?"""

BUILTIN_RULES: Final[tuple[SecretRule, ...]] = (
    # -- private keys ------------------------------------------------------------------
    _rule(
        "private-key",
        "AsymmetricPrivateKey",
        "Asymmetric Private Key (PEM)",
        "HIGH",
        rb"-----BEGIN (?P<label>(?:RSA |DSA |EC |ENCRYPTED |ANY )?PRIVATE KEY)-----"
        rb"(?P<secret>[A-Za-z0-9+/=\s\\:,-]{32,16384}?)-----END (?P=label)-----",
        ("-----BEGIN",),
        check=_pem_body,
        description="PKCS#1, PKCS#8 (plain or encrypted), SEC1 and DSA keys in PEM, also "
        "with JSON's \\n escapes (a key pasted into a JSON or YAML file)",
    ),
    _rule(
        "private-key-openssh",
        "AsymmetricPrivateKey",
        "OpenSSH Private Key",
        "HIGH",
        rb"-----BEGIN OPENSSH PRIVATE KEY-----(?P<secret>[A-Za-z0-9+/=\s\\]{32,32768}?)"
        rb"-----END OPENSSH PRIVATE KEY-----",
        ("-----BEGIN OPENSSH",),
        check=_pem_body,
        description="a key as ssh-keygen writes it (~/.ssh/id_ed25519, id_rsa)",
    ),
    _rule(
        "private-key-pgp",
        "AsymmetricPrivateKey",
        "PGP Private Key Block",
        "HIGH",
        rb"-----BEGIN PGP PRIVATE KEY BLOCK-----(?P<secret>[\x20-\x7e\s]{32,32768}?)"
        rb"-----END PGP PRIVATE KEY BLOCK-----",
        ("-----BEGIN PGP PRIVATE",),
        check=_pem_body,
        description="an armored secret key as gpg --export-secret-keys --armor writes it",
    ),
    # -- cloud providers ---------------------------------------------------------------
    _rule(
        "aws-access-key-id",
        "AWS",
        "AWS Access Key ID",
        "CRITICAL",
        _B
        + rb"(?P<secret>(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16})"
        + _E,
        ("AKIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ASIA", "A3T"),
        description="the public half of an access key; the secret half is often next to it",
    ),
    _rule(
        "aws-secret-access-key",
        "AWS",
        "AWS Secret Access Key",
        "CRITICAL",
        rb"(?i)aws_?(?:secret)?_?(?:access)?_?key"
        + _ASSIGN
        + rb"(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        ("aws",),
        before=re.compile(rb"(?:^|[^A-Za-z0-9])\Z"),
        min_entropy=3.5,
        description="aws_secret_access_key in ~/.aws/credentials, an environment variable "
        "or any key = value text",
    ),
    _rule(
        "gcp-service-account",
        "Google",
        "Google (GCP) Service-account key",
        "CRITICAL",
        rb'"type"\s*:\s*"(?P<secret>service_account)"(?=[\s\S]{0,8192}?"private_key")',
        ("service_account",),
        description="a service account's JSON key file (it holds the account's private key)",
    ),
    _rule(
        "gcp-api-key",
        "Google",
        "Google API Key",
        "HIGH",
        _B + rb"(?P<secret>AIza[0-9A-Za-z_-]{35})" + rb"(?![A-Za-z0-9_-])",
        ("AIza",),
        min_entropy=3.5,
    ),
    _rule(
        "azure-storage-account-key",
        "Azure",
        "Azure Storage Account Key",
        "CRITICAL",
        rb"(?i)AccountKey\s*=\s*(?P<secret>[A-Za-z0-9+/]{86}==)",
        ("AccountKey",),
        description="AccountKey= in a storage connection string",
    ),
    _rule(
        "azure-entra-client-secret",
        "Azure",
        "Azure Entra ID (AD) Client Secret",
        "CRITICAL",
        rb"(?P<secret>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])",
        ("Q~",),
        before=re.compile(rb"(?:^|[^A-Za-z0-9_~.-])\Z"),
        min_entropy=3.5,
    ),
    _rule(
        "azure-sas-token",
        "Azure",
        "Azure Shared Access Signature",
        "HIGH",
        rb"(?i)[?&]sv=[0-9]{4}-[0-9]{2}-[0-9]{2}[^\s\"'<>]{0,512}?[?&]sig="
        rb"(?P<secret>[A-Za-z0-9%+/]{40,100}={0,2})",
        ("sig=",),
    ),
    # -- code hosts and package registries ---------------------------------------------
    _rule(
        "github-pat",
        "GitHub",
        "GitHub Personal Access Token",
        "CRITICAL",
        _B + rb"(?P<secret>ghp_[0-9A-Za-z]{36})" + _E,
        ("ghp_",),
    ),
    _rule(
        "github-oauth",
        "GitHub",
        "GitHub OAuth Access Token",
        "CRITICAL",
        _B + rb"(?P<secret>gho_[0-9A-Za-z]{36})" + _E,
        ("gho_",),
    ),
    _rule(
        "github-app-token",
        "GitHub",
        "GitHub App Token",
        "CRITICAL",
        _B + rb"(?P<secret>gh[us]_[0-9A-Za-z]{36})" + _E,
        ("ghu_", "ghs_"),
    ),
    _rule(
        "github-refresh-token",
        "GitHub",
        "GitHub Refresh Token",
        "CRITICAL",
        _B + rb"(?P<secret>ghr_[0-9A-Za-z]{36,76})" + _E,
        ("ghr_",),
    ),
    _rule(
        "github-fine-grained-pat",
        "GitHub",
        "GitHub Fine-grained Personal Access Token",
        "CRITICAL",
        _B + rb"(?P<secret>github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59})" + _E,
        ("github_pat_",),
    ),
    _rule(
        "gitlab-pat",
        "GitLab",
        "GitLab Personal Access Token",
        "CRITICAL",
        _B + rb"(?P<secret>glpat-[0-9A-Za-z_.-]{20,80})(?![0-9A-Za-z_-])",
        ("glpat-",),
        min_entropy=3.0,
    ),
    _rule(
        "gitlab-runner-token",
        "GitLab",
        "GitLab Runner Authentication Token",
        "HIGH",
        _B + rb"(?P<secret>glrt-[0-9A-Za-z_.-]{20,80})(?![0-9A-Za-z_-])",
        ("glrt-",),
        min_entropy=3.0,
    ),
    _rule(
        "npm-access-token",
        "Npm",
        "npm access token",
        "CRITICAL",
        _B + rb"(?P<secret>npm_[A-Za-z0-9]{36})" + _E,
        ("npm_",),
        min_entropy=3.0,
    ),
    _rule(
        "npmrc-credentials",
        "Npm",
        "Credentials in .npmrc",
        "HIGH",
        rb"(?im)^[ \t]*(?:\S*:)?_(?:authToken|auth|password)[ \t]*=[ \t]*[\"']?"
        rb"(?P<secret>[^\s\"'#;]{6,})",
        ("_auth", "_password"),
        path=re.compile(r"(^|/)\.?npmrc$"),
        places=_FILES,
        placeholders=True,
        description="_authToken, _auth or _password in a user or global npmrc",
    ),
    _rule(
        "pypi-upload-token",
        "PyPI",
        "PyPI upload token",
        "HIGH",
        rb"(?P<secret>pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,1000})",
        ("pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"),
    ),
    _rule(
        "pypirc-password",
        "PyPI",
        "Password in .pypirc",
        "HIGH",
        rb"(?im)^[ \t]*password[ \t]*[=:][ \t]*(?P<secret>\S{4,})",
        ("password",),
        path=re.compile(r"(^|/)\.pypirc$"),
        places=_FILES,
        placeholders=True,
    ),
    _rule(
        "rubygems-api-token",
        "RubyGems",
        "RubyGems API token",
        "MEDIUM",
        _B + rb"(?P<secret>rubygems_[a-f0-9]{48})" + _E,
        ("rubygems_",),
    ),
    _rule(
        "hugging-face-access-token",
        "HuggingFace",
        "Hugging Face Access Token",
        "CRITICAL",
        _B + rb"(?P<secret>hf_[A-Za-z0-9]{34,40})" + _E,
        ("hf_",),
        min_entropy=3.5,
    ),
    # -- services ------------------------------------------------------------------------
    _rule(
        "slack-access-token",
        "Slack",
        "Slack token",
        "HIGH",
        _B + rb"(?P<secret>xox[baprse]-[0-9A-Za-z-]{10,250})(?![0-9A-Za-z-])",
        ("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-", "xoxe-"),
        min_entropy=3.0,
    ),
    _rule(
        "slack-web-hook",
        "Slack",
        "Slack Webhook",
        "MEDIUM",
        rb"https://hooks\.slack\.com/(?:services|workflows)/(?P<secret>[A-Za-z0-9+/]{43,56})",
        ("hooks.slack.com",),
    ),
    _rule(
        "stripe-secret-token",
        "Stripe",
        "Stripe Secret Key",
        "CRITICAL",
        _B + rb"(?P<secret>(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,99})" + _E,
        ("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
        min_entropy=3.0,
    ),
    _rule(
        "stripe-publishable-token",
        "Stripe",
        "Stripe Publishable Key",
        "LOW",
        _B + rb"(?P<secret>pk_(?:live|test)_[0-9A-Za-z]{10,99})" + _E,
        ("pk_live_", "pk_test_"),
        min_entropy=3.0,
    ),
    _rule(
        "sendgrid-api-token",
        "SendGrid",
        "SendGrid API token",
        "MEDIUM",
        _B + rb"(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})" + rb"(?![A-Za-z0-9_-])",
        ("SG.",),
    ),
    _rule(
        "openai-api-key",
        "OpenAI",
        "OpenAI API Key",
        "CRITICAL",
        _B
        + rb"(?P<secret>sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,160}T3BlbkFJ"
        + rb"[A-Za-z0-9_-]{20,160})(?![A-Za-z0-9_-])",
        ("T3BlbkFJ",),
    ),
    _rule(
        "age-secret-key",
        "Age",
        "Age secret key",
        "MEDIUM",
        rb"(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        ("AGE-SECRET-KEY-1",),
    ),
    _rule(
        "jwt-token",
        "JWT",
        "JSON Web Token",
        "MEDIUM",
        _B + rb"(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,})",
        ("eyJ",),
        check=_jwt,
        description="header.payload.signature whose header is JSON naming an algorithm",
    ),
    # -- credentials of tools ------------------------------------------------------------
    _rule(
        "docker-config-auth",
        "Docker",
        "Registry credentials in a Docker or Podman auth file",
        "HIGH",
        rb'"(?:auth|identitytoken|registrytoken)"\s*:\s*"(?P<secret>[A-Za-z0-9+/=._-]{8,})"',
        ("auth", "token"),
        path=re.compile(r"(^|/)(\.docker/config\.json|\.dockercfg|containers/auth\.json)$"),
        places=_FILES,
        check=lambda v: _docker_auth(v) or len(v) >= 20,
    ),
    _rule(
        "dockerconfig-secret",
        "Docker",
        "Dockerconfig secret exposed",
        "HIGH",
        rb"(?i)\.(?:dockerconfigjson|dockercfg)\"?\s*:\s*\"?\|?\s*(?P<secret>e[yw][A-Za-z0-9+/=]{20,})",
        ("dockerc",),
        description="a Kubernetes pull secret's .dockerconfigjson",
    ),
    _rule(
        "git-credentials",
        "Git",
        "Password in .git-credentials",
        "HIGH",
        rb"(?i)[a-z][a-z0-9+.-]{1,19}://[^\s:/@]{1,128}:(?P<secret>[^\s@/]{1,256})@",
        ("://",),
        path=re.compile(r"(^|/)(\.git-credentials|git/credentials)$"),
        places=_FILES,
    ),
    _rule(
        "netrc-password",
        "Netrc",
        "Password in .netrc",
        "HIGH",
        rb"(?i)password[ \t\r\n]+(?P<secret>[^\s]{1,256})",
        ("password",),
        before=_WORD_START,
        path=re.compile(r"(^|/)[._]netrc$"),
        places=_FILES,
        placeholders=True,
    ),
    _rule(
        "basic-auth-url",
        "URL",
        "Password in a URL",
        "HIGH",
        rb"://(?P<user>[^\s:/@'\"<>(){}\[\]]{1,64}):"
        rb"(?P<secret>[^\s:/@'\"<>(){}\[\]]{3,128})@[A-Za-z0-9][A-Za-z0-9.-]{0,253}",
        ("://",),
        before=re.compile(rb"(?i)(?:^|[^a-z0-9+.-])[a-z][a-z0-9+.-]{1,19}\Z"),
        placeholders=True,
        description="user:password@ in a URL (a database DSN, a proxy, a git remote)",
    ),
    _rule(
        "env-password",
        "Environment",
        "Password or token in a .env-style assignment",
        "HIGH",
        rb"(?im)^[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z0-9_.-]*(?:PASSWORD|PASSWD|PASSPHRASE"
        rb"|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)(?!_FILE\b)"
        rb"[A-Za-z0-9_.-]*)[ \t]*=[ \t]*[\"']?(?P<secret>[^\s\"'#]{4,512})",
        ("pass", "secret", "token", "key", "credential"),
        path=re.compile(r"(^|/)(\.env(\.[A-Za-z0-9_.-]+)?|[A-Za-z0-9_.-]+\.env)$"),
        places=_FILE_AND_ENV,
        placeholders=True,
        description="NAME=value where NAME says password, secret, token or key: in a .env "
        "file, an ENV of the image or a build argument recorded in its history",
    ),
)

assert all(r.places <= PLACES for r in BUILTIN_RULES)

BUILTIN_ALLOW_RULES: Final[tuple[AllowRule, ...]] = (
    AllowRule(
        "tests",
        "test files and directories",
        path=re.compile(r"(?i)(^|/)(tests?|testdata|testing|__tests__|fixtures?)/|[._-]tests?[./]"),
    ),
    AllowRule("examples", "example files and directories", path=re.compile(r"(?i)example")),
    AllowRule(
        "example-values",
        "values that say they are examples",
        regex=re.compile(rb"(?i)example|dummy|placeholder|sample|fake|x{8,}|\*{3,}|0{12,}"),
    ),  # fmt: skip
    AllowRule("documentation", "Markdown and reStructuredText", path=re.compile(r"\.(md|rst)$")),
    AllowRule("usr-dirs", "system directories", path=re.compile(r"^usr/(share|include|lib)/")),
    AllowRule("locale-dir", "translations", path=re.compile(r"/locales?/")),
    AllowRule("vendor", "vendored sources", path=re.compile(r"/vendor/")),
    AllowRule("golang", "the Go toolchain of Go images", path=re.compile(r"^usr/local/go/")),
    AllowRule(
        "python",
        "the standard library of Python images",
        path=re.compile(r"^usr/local/lib/python[0-9.]+/(?!site-packages/)"),
    ),
    AllowRule("node.js", "the yarn of Node images", path=re.compile(r"^opt/yarn-v[0-9.]+/")),
    AllowRule("rubygems", "gems of Debian's Ruby", path=re.compile(r"^usr/lib/gems/")),
)
