"""The Assets API (spec §6) against the real server: the ten actions under /v1/seedance/asset/ with
their happy paths and errors in the Volcengine envelope, per-key isolation, every validation rule
(decoded with FFmpeg, never trusting names or declared types), SSRF attempts through URL, a
kill -9 while an asset is Processing, asset:// references in tasks (checked at submit, rendered
from the stored bytes, surviving the asset's deletion), presigned content URLs and the CLI."""
import base64
import hashlib
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import wave

import harness
from harness import Server, probe
from images import png_bytes

A = "/v1/seedance/asset/"
FAST = "doubao-seedance-2-0-fast"
VIDGATE = harness.VIDGATE


def b64(data):
    return base64.b64encode(data).decode()


def wav_bytes(seconds, rate=8000):
    path = tempfile.mktemp(suffix=".wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes((i * 7) & 0xFF for i in range(2 * rate * seconds)))
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return data


class Files(http.server.BaseHTTPRequestHandler):
    """Serves test files; /slow/… sends a first part, then waits until `release` is set;
    /redir redirects to 127.0.0.1. Counts requests per path."""
    files = {}
    hits = {}
    slow = threading.Event()
    release = threading.Event()
    lock = threading.Lock()

    def do_GET(self):
        with self.lock:
            self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/redir":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%d/a.png" % self.server.server_address[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.files.get(self.path.replace("/slow/", "/"))
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")  # a lie: the bytes decide
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if self.path.startswith("/slow/") and self.slow.is_set():
                self.wfile.write(body[:100])
                self.wfile.flush()
                self.release.wait(30)
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def serve_files():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class AssetCase(unittest.TestCase):
    """Helpers shared by the test classes: calls, waits, envelope checks."""
    srv = None

    def call(self, action, body, key=None, srv=None, raw=None, headers=None):
        srv = srv or self.srv
        st, h, j = srv.api("POST", A + action, None if raw is not None else body,
                           key=key or self.key, raw_body=raw, headers=headers)
        if isinstance(j, dict) and "ResponseMetadata" in j:
            meta = j["ResponseMetadata"]
            self.assertEqual((meta["Action"], meta["Version"], meta["Service"]),
                             (action, "2024-01-01", "ark"), j)
            self.assertEqual(meta["RequestId"], h["x-request-id"])
        return st, j

    def ok(self, action, body, key=None, srv=None):
        st, j = self.call(action, body, key=key, srv=srv)
        self.assertEqual(st, 200, j)
        self.assertNotIn("Error", j["ResponseMetadata"])
        return j["Result"]

    def fails(self, action, body, status, code, key=None, srv=None, raw=None, headers=None):
        st, j = self.call(action, body, key=key, srv=srv, raw=raw, headers=headers)
        self.assertEqual(st, status, j)
        self.assertNotIn("Result", j)
        self.assertEqual(j["ResponseMetadata"]["Error"]["Code"], code, j)
        self.assertTrue(j["ResponseMetadata"]["Error"]["Message"])
        return j["ResponseMetadata"]["Error"]["Message"]

    def create(self, key=None, srv=None, **fields):
        body = {"Name": "asset"}
        body.update(fields)
        return self.ok("CreateAsset", body, key=key, srv=srv)["Id"]

    def wait_asset(self, aid, key=None, srv=None, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            a = self.ok("GetAsset", {"Id": aid}, key=key, srv=srv)
            if a["Status"] != "Processing":
                return a
            time.sleep(0.05)
        self.fail("asset %s still Processing after %ss" % (aid, timeout))

    def failed_with(self, aid, code, key=None, srv=None):
        a = self.wait_asset(aid, key=key, srv=srv)
        self.assertEqual((a["Status"], a["Error"]["Code"]), ("Failed", code), a)
        self.assertNotIn("URL", a)
        return a


class AssetApiTest(AssetCase):
    """One server that may fetch http:// but not private or loopback addresses."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(env={"VIDGATE_ALLOW_HTTP_FETCH": "1"})
        cls.key_id, cls.key = cls.srv.new_key("assets", "100.00")
        cls.other_id, cls.other = cls.srv.new_key("other", "100.00")
        cls.tmp = tempfile.mkdtemp(prefix="vg-assets-")
        cls.png = png_bytes(640, 360)
        cls.httpd = serve_files()
        cls.port = cls.httpd.server_address[1]
        Files.files["/a.png"] = cls.png

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.srv.close()

    def active_png(self, **fields):
        aid = self.create(Data=b64(self.png), **fields)
        a = self.wait_asset(aid)
        self.assertEqual(a["Status"], "Active", a)
        return aid, a

    # -- groups ----------------------------------------------------------------------------
    def test_group_routes(self):
        gid = self.ok("CreateAssetGroup", {"Name": "Products", "Description": "shots"})["Id"]
        self.assertRegex(gid, r"^group-\d{14}-[a-z0-9]{16}$")
        g = self.ok("GetAssetGroup", {"Id": gid})
        self.assertEqual((g["Id"], g["Name"], g["Description"], g["GroupType"]),
                         (gid, "Products", "shots", "AIGC"))
        self.assertRegex(g["CreateTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(self.ok("UpdateAssetGroup", {"Id": gid, "Name": "Renamed"}), {})
        self.assertEqual(self.ok("GetAssetGroup", {"Id": gid})["Name"], "Renamed")
        self.ok("UpdateAssetGroup", {"Id": gid, "Description": "new"})
        g = self.ok("GetAssetGroup", {"Id": gid})
        self.assertEqual((g["Name"], g["Description"]), ("Renamed", "new"))
        page = self.ok("ListAssetGroups", {"Filter": {"Name": "renam", "GroupType": "AIGC"}})
        self.assertEqual([x["Id"] for x in page["Items"]], [gid])
        self.assertEqual((page["TotalCount"], page["PageNumber"], page["PageSize"]), (1, 1, 20))
        # a group with an asset is refused (409); empty, it goes
        aid = self.create(GroupId=gid, Data=b64(self.png))
        self.fails("DeleteAssetGroup", {"Id": gid}, 409, "GroupNotEmpty")
        self.ok("DeleteAsset", {"Id": aid})
        self.assertEqual(self.ok("DeleteAssetGroup", {"Id": gid}), {})
        self.fails("GetAssetGroup", {"Id": gid}, 404, "NotFound")
        self.fails("DeleteAssetGroup", {"Id": gid}, 404, "NotFound")

    def test_group_errors(self):
        self.fails("CreateAssetGroup", {}, 400, "MissingParameter")
        self.fails("CreateAssetGroup", {"Name": ""}, 400, "InvalidParameter")
        self.fails("CreateAssetGroup", {"Name": "x" * 65}, 400, "InvalidParameter")
        self.ok("CreateAssetGroup", {"Name": "猫" * 64})  # characters, not bytes
        self.fails("CreateAssetGroup", {"Name": "n", "Description": "d" * 301}, 400,
                   "InvalidParameter")
        self.fails("CreateAssetGroup", {"Name": "n", "GroupType": "Other"}, 400, "InvalidParameter")
        self.fails("CreateAssetGroup", {"Name": 5}, 400, "InvalidParameter")
        self.fails("GetAssetGroup", {}, 400, "MissingParameter")
        self.fails("GetAssetGroup", {"Id": "group-nope"}, 404, "NotFound")
        self.fails("UpdateAssetGroup", {"Id": "group-nope", "Name": "x"}, 404, "NotFound")
        self.fails("UpdateAssetGroup", {"Id": "group-nope"}, 400, "MissingParameter")
        self.fails("ListAssetGroups", {"PageSize": 101}, 400, "InvalidParameter")
        self.fails("ListAssetGroups", {"PageNumber": 0}, 400, "InvalidParameter")
        self.fails("ListAssetGroups", {"Filter": []}, 400, "InvalidParameter")
        self.fails("DeleteAssetGroup", {}, 400, "MissingParameter")

    # -- assets ----------------------------------------------------------------------------
    def test_asset_routes_and_content(self):
        aid, a = self.active_png(Name="first frame")
        self.assertRegex(aid, r"^asset-\d{14}-[a-z0-9]{16}$")
        self.assertEqual((a["Id"], a["Name"], a["AssetType"]), (aid, "first frame", "Image"))
        self.assertTrue(a["GroupId"].startswith("group-"))  # the key's default group
        self.assertNotIn("Error", a)
        groups = self.ok("ListAssetGroups", {"Filter": {"Name": "default"}})["Items"]
        self.assertIn(a["GroupId"], [g["Id"] for g in groups])
        # the presigned URL serves the bytes without a key; any change is refused
        r = self.srv.request("GET", a["URL"])
        self.assertEqual((r.status, r.headers["content-type"], r.body), (200, "image/png", self.png))
        part = self.srv.request("GET", a["URL"], headers={"Range": "bytes=0-7"})
        self.assertEqual((part.status, part.body), (206, self.png[:8]))
        u = urllib.parse.urlsplit(a["URL"])
        q = dict(urllib.parse.parse_qsl(u.query))
        for path in ("%s?expires=%d&sig=%s" % (u.path, int(q["expires"]) + 1, q["sig"]),
                     "%s?expires=%s&sig=%s" % (u.path, q["expires"], "0" * 64),
                     "/files/%s/content?expires=%s&sig=%s" % (aid, q["expires"], q["sig"])):
            st, _, j = self.srv.api("GET", path)
            self.assertIn(st, (403, 404), j)
        self.assertEqual(self.ok("UpdateAsset", {"Id": aid, "Name": "renamed"}), {})
        a2 = self.ok("GetAsset", {"Id": aid})
        self.assertEqual(a2["Name"], "renamed")
        self.assertGreaterEqual(a2["UpdateTime"], a2["CreateTime"])
        self.assertEqual(self.ok("DeleteAsset", {"Id": aid}), {})
        self.fails("GetAsset", {"Id": aid}, 404, "NotFound")
        self.fails("DeleteAsset", {"Id": aid}, 404, "NotFound")
        self.fails("UpdateAsset", {"Id": aid, "Name": "x"}, 404, "NotFound")
        self.assertEqual(self.srv.api("GET", a["URL"])[0], 404)

    def test_asset_errors(self):
        png = b64(self.png)
        cases = [
            ({"Data": png}, 400, "MissingParameter"),                       # no Name
            ({"Name": "x"}, 400, "MissingParameter"),                       # neither URL nor Data
            ({"Name": "x", "Data": png, "URL": "https://example.com/a.png"}, 400, "InvalidParameter"),
            ({"Name": "x", "Data": "%%% not base64"}, 400, "InvalidParameter"),
            ({"Name": "x", "Data": ""}, 400, "InvalidParameter"),
            ({"Name": "x", "Data": "data:image/png," + png}, 400, "InvalidParameter"),
            ({"Name": "x", "Data": png, "AssetType": "Picture"}, 400, "InvalidParameter"),
            ({"Name": "x" * 65, "Data": png}, 400, "InvalidParameter"),
            ({"Name": "x", "URL": "ftp://example.com/a.png"}, 400, "InvalidParameter"),
            ({"Name": "x", "URL": "https://user:pw@example.com/a.png"}, 400, "InvalidParameter"),
            ({"Name": "x", "Data": png, "GroupId": "group-20261124113000-aaaaaaaaaaaaaaaa"}, 404,
             "NotFound"),
        ]
        for body, status, code in cases:
            with self.subTest(body={k: str(v)[:40] for k, v in body.items()}):
                self.fails("CreateAsset", body, status, code)
        self.fails("GetAsset", {}, 400, "MissingParameter")
        self.fails("GetAsset", {"Id": 7}, 400, "InvalidParameter")
        self.fails("GetAsset", {"Id": "asset-nope"}, 404, "NotFound")
        self.fails("UpdateAsset", {"Id": "asset-nope"}, 400, "MissingParameter")
        self.fails("DeleteAsset", {}, 400, "MissingParameter")
        self.fails("ListAssets", {"PageSize": 0}, 400, "InvalidParameter")
        self.fails("ListAssets", {"Filter": {"Statuses": ["Deleted"]}}, 400, "InvalidParameter")
        self.fails("ListAssets", {"Filter": {"GroupIds": "g"}}, 400, "InvalidParameter")
        self.fails("ListAssets", {"Filter": {"GroupIds": [1]}}, 400, "InvalidParameter")
        # the body itself
        self.fails("GetAsset", None, 400, "InvalidParameter", raw=b"{not json")
        self.fails("GetAsset", None, 400, "InvalidParameter", raw=b"[1]")
        self.fails("GetAsset", None, 400, "InvalidParameter", raw=b"")
        self.fails("GetAsset", None, 400, "InvalidParameter", raw=b"[" * 40 + b"]" * 40)
        self.fails("GetAsset", None, 415, "UnsupportedMediaType", raw=b"{}",
                   headers={"Content-Type": "image/png"})
        # the body cap is checked by the router from the request head, before the body is read,
        # and so is authentication: both answer with the §1 envelope
        big = b'{"Id":"' + b"x" * (1 << 20) + b'"}'
        st, _, j = self.srv.api("POST", A + "GetAsset", raw_body=big, key=self.key)
        self.assertEqual((st, j["error"]["code"]), (413, "request_too_large"))
        st, _, j = self.srv.api("POST", A + "GetAsset", {"Id": "x"})
        self.assertEqual((st, j["error"]["code"]), (401, "invalid_api_key"))
        self.assertEqual(self.srv.api("GET", A + "GetAsset", key=self.key)[0], 405)

    def test_list_paging_and_filters(self):
        _, k = self.srv.new_key("lister", "1.00")
        gid = self.ok("CreateAssetGroup", {"Name": "pets"}, key=k)["Id"]
        ids = [self.create(key=k, Name=n, GroupId=gid if i % 2 else None, Data=b64(self.png))
               for i, n in enumerate(["Cat A", "dog", "CAT b", "bird", "cat c"])]
        bad = self.create(key=k, Name="cat small", Data=b64(png_bytes(120, 120)))
        for aid in ids:
            self.wait_asset(aid, key=k)
        self.failed_with(bad, "InvalidDimensions", key=k)
        page = self.ok("ListAssets", {"PageNumber": 1, "PageSize": 2, "Filter": {"Name": "cat"}}, key=k)
        self.assertEqual((page["TotalCount"], page["PageNumber"], page["PageSize"]), (4, 1, 2))
        self.assertEqual([a["Id"] for a in page["Items"]], [bad, ids[4]])  # newest first
        page = self.ok("ListAssets", {"PageNumber": 3, "PageSize": 2, "Filter": {"Name": "cat"}}, key=k)
        self.assertEqual((page["Items"], page["TotalCount"]), ([], 4))
        page = self.ok("ListAssets", {"Filter": {"GroupIds": [gid]}}, key=k)
        self.assertEqual(sorted(a["Id"] for a in page["Items"]), sorted([ids[1], ids[3]]))
        page = self.ok("ListAssets", {"Filter": {"Statuses": ["Failed"], "GroupType": "AIGC"}}, key=k)
        self.assertEqual([a["Id"] for a in page["Items"]], [bad])
        page = self.ok("ListAssets", {"Filter": {"Statuses": ["Active", "Processing"]}}, key=k)
        self.assertEqual(page["TotalCount"], 5)
        self.assertEqual(self.ok("ListAssets", {}, key=k)["TotalCount"], 6)

    def test_isolation_between_keys(self):
        aid, a = self.active_png()
        gid = self.ok("CreateAssetGroup", {"Name": "private"})["Id"]
        o = self.other
        self.fails("GetAsset", {"Id": aid}, 404, "NotFound", key=o)
        self.fails("UpdateAsset", {"Id": aid, "Name": "x"}, 404, "NotFound", key=o)
        self.fails("DeleteAsset", {"Id": aid}, 404, "NotFound", key=o)
        self.fails("GetAssetGroup", {"Id": gid}, 404, "NotFound", key=o)
        self.fails("UpdateAssetGroup", {"Id": gid, "Name": "x"}, 404, "NotFound", key=o)
        self.fails("DeleteAssetGroup", {"Id": gid}, 404, "NotFound", key=o)
        self.fails("CreateAsset", {"Name": "x", "GroupId": gid, "Data": b64(self.png)}, 404,
                   "NotFound", key=o)
        self.assertNotIn(aid, [x["Id"] for x in self.ok("ListAssets", {"PageSize": 100}, key=o)["Items"]])
        self.assertNotIn(gid, [x["Id"] for x in self.ok("ListAssetGroups", {}, key=o)["Items"]])
        st, _, j = self.srv.submit(o, metadata={"resolution": "480p", "content": [
            {"type": "image_url", "image_url": {"url": "asset://" + aid}, "role": "first_frame"}]})
        self.assertEqual((st, j["error"]["code"], j["error"]["message"], j["error"]["param"]),
                         (400, "asset_not_found", "asset not found",
                          "metadata.content[0].image_url.url"))
        self.assertEqual(self.ok("GetAsset", {"Id": aid})["Status"], "Active")  # untouched

    # -- validation (decoded, never trusted) -------------------------------------------------
    def test_validation_rules(self):
        wav3, png = wav_bytes(3), self.png
        cases = [
            ("299 px", {"Data": b64(png_bytes(299, 400))}, "InvalidDimensions"),
            ("aspect 2.6", {"Data": b64(png_bytes(780, 300))}, "InvalidAspectRatio"),
            ("aspect 0.38", {"Data": b64(png_bytes(304, 800))}, "InvalidAspectRatio"),
            ("truncated", {"Data": b64(png[:len(png) // 2])}, "DecodeFailed"),
            ("garbage", {"Data": b64(b"not an image at all " * 50)}, "UnsupportedFormat"),
            ("png as Video", {"Data": b64(png), "AssetType": "Video"}, "UnsupportedFormat"),
            ("wav as Image", {"Data": b64(wav3)}, "UnsupportedFormat"),
            ("audio 1 s", {"Data": b64(wav_bytes(1)), "AssetType": "Audio"}, "InvalidDuration"),
            ("audio 16 s", {"Data": b64(wav_bytes(16)), "AssetType": "Audio"}, "InvalidDuration"),
            ("31 MB", {"Data": b64(b"\x89PNG\r\n\x1a\n" + bytes(31000000))}, "FileTooLarge"),
        ]
        made = [(label, self.create(Name=label, **body), code) for label, body, code in cases]
        for label, aid, code in made:
            with self.subTest(case=label):
                self.failed_with(aid, code)
        # accepted: a PNG named .jpg and declared image/jpeg is a PNG; a 3 s WAV is audio
        aid = self.create(Name="photo.jpg", Data="data:image/jpeg;base64," + b64(png))
        a = self.wait_asset(aid)
        self.assertEqual(a["Status"], "Active", a)
        self.assertEqual(self.srv.request("GET", a["URL"]).headers["content-type"], "image/png")
        aid = self.create(Name="voice", AssetType="Audio", Data=b64(wav3))
        a = self.wait_asset(aid)
        self.assertEqual((a["Status"], a["AssetType"]), ("Active", "Audio"), a)
        self.assertEqual(self.srv.request("GET", a["URL"]).headers["content-type"], "audio/wav")

    # -- SSRF ---------------------------------------------------------------------------------
    def test_ssrf_literal_addresses_refused_at_create(self):
        p = self.port
        for url in ("http://127.0.0.1:%d/a.png" % p, "http://10.1.2.3/a.png",
                    "http://0x7f000001:%d/a.png" % p, "http://[::ffff:127.0.0.1]:%d/a.png" % p,
                    "http://2130706433:%d/a.png" % p, "http://169.254.169.254/latest/meta-data",
                    "http://[::1]:%d/a.png" % p, "http://0/a.png"):
            with self.subTest(url=url):
                msg = self.fails("CreateAsset", {"Name": "x", "URL": url}, 400, "InvalidParameter")
                self.assertIn("URL", msg)
        self.assertEqual(Files.hits.get("/a.png", 0), 0)

    def test_ssrf_names_and_redirects_refused_at_connect(self):
        p = self.port
        before = dict(Files.hits)
        for url in ("http://localhost:%d/a.png" % p, "http://localhost:%d/redir" % p):
            with self.subTest(url=url):
                aid = self.create(URL=url)
                a = self.failed_with(aid, "URLNotAllowed")
                self.assertNotIn(str(p), a["Error"]["Message"])  # no addresses echoed
        self.assertEqual(Files.hits, before)  # nothing ever reached the local server

    def test_https_only_by_default(self):
        strict = Server()
        try:
            _, k = strict.new_key("strict", "1.00")
            msg = self.fails("CreateAsset", {"Name": "x", "URL": "http://example.com/a.png"}, 400,
                             "InvalidParameter", key=k, srv=strict)
            self.assertIn("https", msg)
        finally:
            strict.close()

    # -- tasks -------------------------------------------------------------------------------
    def content(self, url, role="first_frame", kind="image_url"):
        return {"resolution": "480p", "content": [{"type": kind, kind: {"url": url}, "role": role}]}

    def test_task_from_asset_first_frame(self):
        aid, _ = self.active_png()
        st, _, j = self.srv.submit(self.key, prompt="static shot", metadata=self.content("asset://" + aid))
        self.assertEqual(st, 200, j)
        t = self.srv.wait_task(j["id"], self.key)
        self.assertEqual((t["status"], t["ratio"], t["size"]), ("completed", "16:9", "864x496"), t)
        video = os.path.join(self.tmp, "from-asset.mp4")
        self.srv.download(t["output"]["video_url"], video)
        image = os.path.join(self.tmp, "asset.png")
        with open(image, "wb") as f:
            f.write(self.png)
        self.assertGreater(probe(image, "compare", video)["psnr"], 28)
        # the rendered video is a valid Video asset in its turn (mp4, 4 s)
        with open(video, "rb") as f:
            vid = self.create(Name="clip", AssetType="Video", Data=b64(f.read()))
        v = self.wait_asset(vid)
        self.assertEqual(v["Status"], "Active", v)
        self.assertEqual(self.srv.request("GET", v["URL"]).headers["content-type"], "video/mp4")

    def test_task_survives_asset_deletion(self):
        aid, _ = self.active_png(Name="short-lived")
        st, _, j = self.srv.submit(self.key, prompt="camera fixed", metadata=self.content("asset://" + aid))
        self.assertEqual(st, 200, j)
        self.ok("DeleteAsset", {"Id": aid})
        t = self.srv.wait_task(j["id"], self.key)
        self.assertEqual(t["status"], "completed", t)
        st, _, j = self.srv.submit(self.key, metadata=self.content("asset://" + aid))
        self.assertEqual((st, j["error"]["code"]), (400, "asset_not_found"))

    def test_task_asset_checks_at_submit(self):
        bad = self.create(Data=b64(png_bytes(120, 120)))
        self.failed_with(bad, "InvalidDimensions")
        wav = self.create(AssetType="Audio", Data=b64(wav_bytes(3)))
        self.wait_asset(wav)
        cases = [
            (self.content("asset://asset-20261124113000-aaaaaaaaaaaaaaaa"), "asset_not_found"),
            (self.content("asset://" + bad), "asset_not_ready"),
            (self.content("asset://" + wav), "invalid_parameter"),
        ]
        for meta, code in cases:
            with self.subTest(code=code):
                st, _, j = self.srv.submit(self.key, metadata=meta)
                self.assertEqual((st, j["error"]["code"], j["error"]["param"]),
                                 (400, code, "metadata.content[0].image_url.url"), j)
        meta = {"resolution": "480p", "content": [
            {"type": "text", "text": "hello"},
            {"type": "image_url", "image_url": {"url": "asset://nope"}, "role": "first_frame"}]}
        st, _, j = self.srv.submit(self.key, metadata=meta)
        self.assertEqual((j["error"]["code"], j["error"]["message"], j["error"]["param"]),
                         ("asset_not_found", "asset not found", "metadata.content[1].image_url.url"))

    # -- CLI ---------------------------------------------------------------------------------
    def cli(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
        env.update(VIDGATE_BASE_URL=self.srv.base_url, VIDGATE_API_KEY=self.key)
        p = subprocess.run([VIDGATE] + list(args), cwd=self.tmp, env=env, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertNotIn(self.key, p.stdout + p.stderr)
        return p

    def test_cli(self):
        img = os.path.join(self.tmp, "cli.png")
        with open(img, "wb") as f:
            f.write(self.png)
        small = os.path.join(self.tmp, "small.png")
        with open(small, "wb") as f:
            f.write(png_bytes(200, 200))
        p = self.cli("assets", "group-create", "--name", "cli group", "--description", "d")
        self.assertEqual(p.returncode, 0, p.stderr)
        gid = p.stdout.strip()
        p = self.cli("assets", "upload", img, "--group", gid, "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        aid = p.stdout.strip()
        self.assertEqual(self.ok("GetAsset", {"Id": aid})["Name"], "cli.png")
        p = self.cli("assets", "list", "--group", gid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(aid, p.stdout)
        self.assertIn("Active", p.stdout)
        p = self.cli("assets", "get", aid, "--json")
        self.assertIn('"Status": "Active"', p.stdout)
        p = self.cli("assets", "upload", small, "--wait", "--name", "too small")
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("InvalidDimensions", p.stderr)
        p = self.cli("assets", "delete", aid)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.cli("assets", "get", aid)
        self.assertEqual(p.returncode, 3)
        self.assertIn("NotFound", p.stderr)
        self.assertEqual(self.cli("assets", "upload").returncode, 2)
        out = os.path.join(self.tmp, "via.mp4")
        p = self.cli("--quiet", "generate", "--prompt", "static", "--image", img, "--via-asset",
                     "--resolution", "480p", "--ratio", "16:9", "--seconds", "4", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreater(probe(img, "compare", out)["psnr"], 28)
        names = [a["Name"] for a in self.ok("ListAssets", {"Filter": {"Name": "cli.png"}})["Items"]]
        self.assertEqual(names, ["cli.png"])  # the upload --via-asset made


class AssetFetchTest(AssetCase):
    """A server allowed to fetch from loopback: URL assets, and a kill -9 while one is fetched."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(env={"VIDGATE_ALLOW_HTTP_FETCH": "1", "VIDGATE_ALLOW_PRIVATE_FETCH": "1"})
        cls.key_id, cls.key = cls.srv.new_key("fetch", "10.00")
        cls.httpd = serve_files()
        cls.base = "http://127.0.0.1:%d" % cls.httpd.server_address[1]
        cls.png = png_bytes(360, 640)
        Files.files["/portrait.jpg"] = cls.png  # a PNG behind a .jpg name and an image/jpeg type

    @classmethod
    def tearDownClass(cls):
        Files.release.set()
        cls.httpd.shutdown()
        cls.srv.close()

    def test_url_asset(self):
        aid = self.create(URL=self.base + "/portrait.jpg")
        a = self.wait_asset(aid)
        self.assertEqual(a["Status"], "Active", a)
        r = self.srv.request("GET", a["URL"])
        self.assertEqual((r.headers["content-type"], hashlib.sha256(r.body).hexdigest()),
                         ("image/png", hashlib.sha256(self.png).hexdigest()))
        self.failed_with(self.create(URL=self.base + "/missing.png"), "FetchFailed")

    def test_kill9_while_processing_then_resume(self):
        Files.files["/one.png"] = png_bytes(400, 400, seed=2)
        Files.files["/two.png"] = png_bytes(400, 400, seed=3)
        Files.slow.set()
        Files.release.clear()
        slow = [self.create(URL=self.base + "/slow/one.png"),
                self.create(URL=self.base + "/slow/two.png")]
        # both workers are busy with the slow URLs: this Data upload waits in its staging copy
        queued = self.create(Data=b64(png_bytes(400, 300)))
        deadline = time.time() + 10
        while Files.hits.get("/slow/two.png", 0) + Files.hits.get("/slow/one.png", 0) < 2:
            self.assertLess(time.time(), deadline, "the slow fetches did not start")
            time.sleep(0.02)
        for aid in slow + [queued]:
            self.assertEqual(self.ok("GetAsset", {"Id": aid})["Status"], "Processing")
        st, _, j = self.srv.submit(self.key, metadata={"resolution": "480p", "content": [
            {"type": "image_url", "image_url": {"url": "asset://" + slow[0]}, "role": "first_frame"}]})
        self.assertEqual((st, j["error"]["code"]), (400, "asset_not_ready"))
        self.srv.kill9()
        Files.slow.clear()
        Files.release.set()
        self.srv.start()
        for aid in slow + [queued]:
            a = self.wait_asset(aid)
            self.assertEqual(a["Status"], "Active", a)
        self.assertGreaterEqual(Files.hits["/slow/one.png"], 2)  # fetched again after the restart


if __name__ == "__main__":
    unittest.main()
