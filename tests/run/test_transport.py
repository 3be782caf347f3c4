"""The wire under the openai provider (run/transport.py): what the SDK's own HTTP client did for
TLS, proxies and oversized answers, the aiohttp path must do too. Real sockets on 127.0.0.1: a
TLS endpoint with its own certificate authority, a forward proxy, a server that streams."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalbot.records import Completion
from evalbot.run.providers import MAX_RESPONSE_BYTES
from evalbot.run.runner import ModelRunner, build_request
from tests.fakes.openai_server import FakeOpenAI
from tests.run.helpers import model_config, run, user


async def _ask(runner: ModelRunner, prompt: str = "hello") -> Completion:
    model = model_config(timeout_s=10)
    try:
        return await runner.complete(model, build_request(model, user(prompt)))
    finally:
        await runner.aclose()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own authority, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evalbot test endpoint")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "endpoint.pem", directory / "endpoint.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_fake(tmp_path: Path) -> Iterator[tuple[FakeOpenAI, Path]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeOpenAI(tls=context) as fake:
        yield fake, cert


def test_tls_trusts_what_ssl_cert_file_names(tls_fake, monkeypatch: pytest.MonkeyPatch):
    fake, cert = tls_fake
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key"}
    assert fake.base_url.startswith("https://")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    done = run(_ask(ModelRunner(env=env, max_retries=0)))
    assert done.ok and done.text == "hello"
    assert fake.auth_headers == ["Bearer test-key"]


def test_tls_refuses_a_certificate_nobody_vouched_for(tls_fake, monkeypatch: pytest.MonkeyPatch):
    fake, _ = tls_fake
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key"}
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    done = run(_ask(ModelRunner(env=env, max_retries=0)))
    assert not done.ok and "could not connect to 127.0.0.1" in (done.error or "")
    assert fake.requests == []  # the prompt never left over an unverified connection


class _ForwardProxy:
    """An HTTP forward proxy on 127.0.0.1 that records each request line and relays it."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        # A client or upstream gone mid-relay (the test is over) ends the relay quietly.
        with client, contextlib.suppress(OSError):
            reader = client.makefile("rb")
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                request_line, _, rest = head.partition(b"\r\n")
                method, target, version = request_line.decode().split(" ")
                self.lines.append(f"{method} {target}")
                length = next(
                    (
                        int(value)
                        for name, _, value in (h.partition(b":") for h in rest.split(b"\r\n"))
                        if name.strip().lower() == b"content-length"
                    ),
                    0,
                )
                body = reader.read(length)
                host_port, _, path = target.removeprefix("http://").partition("/")
                host, _, port = host_port.partition(":")
                with socket.create_connection((host, int(port))) as upstream:
                    upstream.sendall(
                        f"{method} /{path} {version}\r\n".encode()
                        + rest.rstrip(b"\r\n")
                        + b"\r\nConnection: close\r\n\r\n"
                        + body
                    )
                    answer = b""
                    while chunk := upstream.recv(65536):
                        answer += chunk
                client.sendall(answer)

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def proxy() -> Iterator[_ForwardProxy]:
    server = _ForwardProxy()
    yield server
    server.close()


def test_the_proxy_from_the_environment_carries_the_call(
    fake_openai: FakeOpenAI, fake_env, proxy: _ForwardProxy, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    done = run(_ask(ModelRunner(env=fake_env, max_retries=0)))
    assert done.ok and done.text == "hello"
    assert proxy.lines == [f"POST {fake_openai.base_url}/chat/completions"]
    assert len(fake_openai.requests) == 1


def test_no_proxy_sends_the_call_directly(
    fake_openai: FakeOpenAI, fake_env, proxy: _ForwardProxy, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    done = run(_ask(ModelRunner(env=fake_env, max_retries=0)))
    assert done.ok and proxy.lines == []


async def _stream_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 200 with a chunked body that never ends: the client must stop at the cap."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    sent = 0
    try:
        while sent < 4 * MAX_RESPONSE_BYTES:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)
    except (ConnectionError, OSError):
        return  # the client hung up: what the test wants
    finally:
        writer.close()


def test_an_endless_answer_stops_at_the_cap():
    async def main() -> tuple[Completion, int]:
        server = await asyncio.start_server(_stream_forever, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": "k"}
        async with server:
            done = await _ask(ModelRunner(env=env, max_retries=0))
        return done, port

    done, _ = run(main())
    assert not done.ok and "larger than" in (done.error or "")


def test_a_declared_oversized_answer_is_refused_unread(fake_openai: FakeOpenAI, fake_env):
    fake_openai.responder = lambda body: "y" * (MAX_RESPONSE_BYTES + 1)
    done = run(_ask(ModelRunner(env=fake_env, max_retries=0)))
    assert not done.ok and "larger than" in (done.error or "")
    assert json.dumps(fake_openai.requests[0])  # the request itself went out whole


def test_the_sdk_client_itself_sends_nothing(fake_openai: FakeOpenAI, fake_env):
    """Only ChatSender sends: a call made through the SDK's own client fails, and never leaves."""
    from evalbot.run.openai_provider import OpenAIClients, resolve_endpoint

    async def main() -> None:
        clients = OpenAIClients(fake_env, max_retries=0)
        sdk = clients.client(resolve_endpoint(model_config(), fake_env, None))
        try:
            with pytest.raises(RuntimeError, match="ChatSender only"):
                await sdk.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                )
        finally:
            await clients.aclose()

    run(main())
    assert fake_openai.requests == []
