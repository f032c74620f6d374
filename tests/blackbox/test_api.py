"""The native task API over real HTTP: errors and their envelope, validation rules, auth, isolation
between keys, limits, and reply shapes. Renders are kept out of this file (see test_render.py)."""
import base64
import json
import unittest

from harness import Server
from images import png_bytes

FAST = "doubao-seedance-2-0-fast"
PRO = "doubao-seedance-2-0"
PNG = png_bytes(640, 360)
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def body(**over):
    b = {"model": FAST, "prompt": "a cat stretching in the sun", "seconds": "4",
         "metadata": {"resolution": "480p"}}
    for k, v in over.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def meta(**m):
    d = {"resolution": "480p"}
    d.update(m)
    return d


def content(*items):
    return meta(content=list(items))


def img(url, role=None):
    it = {"type": "image_url", "image_url": {"url": url}}
    if role:
        it["role"] = role
    return it


# (name, body, expected status, code, param)
RULES = [
    ("model missing", body(model=None), 400, "missing_parameter", "model"),
    ("model not a string", body(model=7), 400, "invalid_parameter", "model"),
    ("model unknown", body(model="sora-2"), 404, "model_not_found", "model"),
    ("prompt missing", body(prompt=None), 400, "missing_parameter", "prompt"),
    ("prompt empty", body(prompt="   "), 400, "invalid_parameter", "prompt"),
    ("prompt too long", body(prompt="x" * 8001), 400, "invalid_parameter", "prompt"),
    ("prompt not a string", body(prompt=["a"]), 400, "invalid_parameter", "prompt"),
    ("seconds too short", body(seconds="3"), 400, "invalid_duration", "seconds"),
    ("seconds too long", body(seconds=16), 400, "invalid_duration", "seconds"),
    ("seconds not a number", body(seconds="five"), 400, "invalid_duration", "seconds"),
    ("duration out of range", body(seconds=None, duration=20), 400, "invalid_duration", "duration"),
    ("size unknown", body(size="999x999", metadata={}), 400, "invalid_resolution", "size"),
    ("resolution unknown", body(metadata=meta(resolution="4k")), 400, "invalid_resolution",
     "metadata.resolution"),
    ("fast with 1080p", body(metadata=meta(resolution="1080p")), 400, "unsupported_resolution",
     "metadata.resolution"),
    ("mini with 1080p", body(model="doubao-seedance-2-0-mini", metadata=meta(resolution="1080p")),
     400, "unsupported_resolution", "metadata.resolution"),
    ("ratio unknown", body(metadata=meta(ratio="2:1")), 400, "invalid_ratio", "metadata.ratio"),
    ("seed too large", body(metadata=meta(seed=2 ** 32)), 400, "invalid_parameter", "metadata.seed"),
    ("seed below -1", body(metadata=meta(seed=-2)), 400, "invalid_parameter", "metadata.seed"),
    ("generate_audio not bool", body(metadata=meta(generate_audio="yes")), 400, "invalid_parameter",
     "metadata.generate_audio"),
    ("return_last_frame not bool", body(metadata=meta(return_last_frame=1)), 400,
     "invalid_parameter", "metadata.return_last_frame"),
    ("watermark not bool", body(metadata=meta(watermark="no")), 400, "invalid_parameter",
     "metadata.watermark"),
    ("camera_fixed not bool", body(metadata=meta(camera_fixed=0)), 400, "invalid_parameter",
     "metadata.camera_fixed"),
    ("metadata not an object", body(metadata=[1]), 400, "invalid_parameter", "metadata"),
    ("images not an array", body(images="https://example.com/a.png"), 400, "invalid_parameter",
     "images"),
    ("ten images", body(images=["https://example.com/%d.png" % i for i in range(10)]), 400,
     "invalid_parameter", "images"),
    ("image ftp url", body(images=["ftp://example.com/a.png"]), 400, "invalid_image",
     "images[0]"),
    ("image data url not base64", body(images=["data:image/png;base64,@@@"]), 400, "invalid_image",
     "images[0]"),
    ("image data url not an image", body(images=["data:image/png;base64," +
                                                 base64.b64encode(b"not an image").decode()]),
     400, "invalid_image", "images[0]"),
    ("image http url refused", body(images=["http://example.com/a.png"]), 400, "invalid_image",
     "images[0]"),
    ("image loopback literal refused", body(images=["https://127.0.0.1/a.png"]), 400,
     "invalid_image", "images[0]"),
    ("image private literal in content", body(metadata=content(
        {"type": "text", "text": "hi"}, img("https://10.0.0.1/a.png", "first_frame"))),
     400, "invalid_image", "metadata.content[1].image_url.url"),
    ("last frame without first", body(metadata=content(img(DATA_URL, "last_frame"))), 400,
     "invalid_parameter", None),
    ("content not an array", body(metadata=meta(content={"a": 1})), 400, "invalid_parameter",
     "metadata.content"),
    ("content unknown type", body(metadata=content({"type": "gif_url", "gif_url": {"url": "x"}})),
     400, "invalid_parameter", "metadata.content[0].type"),
    ("content image with video role", body(metadata=content(img(DATA_URL, "reference_video"))),
     400, "invalid_parameter", "metadata.content[0].role"),
    ("two first frames", body(metadata=content(img(DATA_URL, "first_frame"),
                                               img(DATA_URL, "first_frame"))),
     400, "invalid_parameter", "metadata.content[1].role"),
    ("first frame with reference image", body(metadata=content(img(DATA_URL, "first_frame"),
                                                               img(DATA_URL, "reference_image"))),
     400, "invalid_parameter", "metadata.content[1].role"),
    ("audio alone", body(metadata=content({"type": "audio_url", "role": "reference_audio",
                                           "audio_url": {"url": "https://example.com/a.mp3"}})),
     400, "invalid_parameter", "metadata.content"),
    ("asset unknown", body(metadata=content(img("asset://asset_xxx", "first_frame"))), 400,
     "asset_not_found", "metadata.content[0].image_url.url"),
    ("callback_url not https", body(callback_url="ftp://example.com/hook"), 400,
     "invalid_parameter", "callback_url"),
]


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.key_id, cls.key = cls.srv.new_key("alice", "100.00")
        cls.other_id, cls.other = cls.srv.new_key("bob", "100.00")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def assertError(self, resp, status, code, param=None):
        st, headers, j = resp
        self.assertEqual(st, status, j)
        self.assertTrue(headers.get("x-request-id"))
        self.assertEqual(set(j.keys()), {"error"})
        self.assertEqual(set(j["error"].keys()), {"message", "type", "code", "param"})
        self.assertEqual(j["error"]["code"], code, j)
        self.assertTrue(j["error"]["message"])
        if param is not None:
            self.assertEqual(j["error"]["param"], param, j)
        return j["error"]

    def test_health_needs_no_key(self):
        self.assertEqual(self.srv.api("GET", "/healthz")[0], 200)
        self.assertEqual(self.srv.api("GET", "/readyz")[2], {"status": "ready"})

    def test_each_validation_rule(self):
        for name, b, status, code, param in RULES:
            with self.subTest(rule=name):
                e = self.assertError(self.srv.api("POST", "/v1/video/generations", b, key=self.key),
                                     status, code, param)
                expected_type = {400: "invalid_request_error", 404: "not_found_error"}[status]
                self.assertEqual(e["type"], expected_type)

    def test_seed_examples_are_accepted(self):
        examples = [
            {"model": FAST, "prompt": "一只橘猫在阳光下伸懒腰，镜头缓慢推进", "seconds": "5",
             "metadata": {"resolution": "480p"}},
            {"model": PRO, "prompt": "镜头缓缓推进，人物自然微笑", "images": [DATA_URL],
             "seconds": "5", "metadata": {"resolution": "720p"}},
        ]
        for ex in examples:
            st, _, j = self.srv.api("POST", "/v1/video/generations", ex, key=self.key)
            self.assertEqual(st, 200, j)
            self.assertEqual(set(j.keys()), {"id", "task_id", "object", "model", "status",
                                             "progress", "created_at"})
            self.assertEqual(j["id"], j["task_id"])
            self.assertRegex(j["id"], r"^task_[0-9A-HJKMNP-TV-Z]{26}$")
            self.assertEqual((j["status"], j["progress"], j["object"]), ("queued", 0, "video"))
            self.assertEqual(j["model"], ex["model"])

    def test_defaults_and_pixel_size(self):
        st, _, j = self.srv.api("POST", "/v1/video/generations",
                                {"model": PRO, "prompt": "defaults"}, key=self.key)
        self.assertEqual(st, 200, j)
        st, _, t = self.srv.api("GET", "/v1/video/generations/" + j["id"], key=self.key)
        self.assertEqual((t["seconds"], t["resolution"], t["ratio"], t["size"]),
                         ("5", "720p", "16:9", "1280x720"))
        self.assertIsInstance(t["seed"], int)
        st, _, j = self.srv.api("POST", "/v1/video/generations",
                                {"model": PRO, "prompt": "pixels", "size": "720x1280",
                                 "duration": 6}, key=self.key)
        st, _, t = self.srv.api("GET", "/v1/video/generations/" + j["id"], key=self.key)
        self.assertEqual((t["seconds"], t["resolution"], t["ratio"], t["size"]),
                         ("6", "720p", "9:16", "720x1280"))

    def test_adaptive_ratio_follows_embedded_image(self):
        portrait = "data:image/png;base64," + base64.b64encode(png_bytes(360, 640)).decode()
        st, _, j = self.srv.api("POST", "/v1/video/generations",
                                body(images=[portrait]), key=self.key)
        self.assertEqual(st, 200, j)
        t = self.srv.api("GET", "/v1/video/generations/" + j["id"], key=self.key)[2]
        self.assertEqual((t["ratio"], t["size"]), ("9:16", "496x864"))

    def test_auth_failures(self):
        path = "/v1/video/generations"
        self.assertError(self.srv.api("GET", path), 401, "invalid_api_key")
        self.assertError(self.srv.api("GET", path, key="sk-wrong"), 401, "invalid_api_key")
        self.assertError(self.srv.api("GET", path, headers={"Authorization": "Basic eDp5"}), 401,
                         "invalid_api_key")
        # A valid user key on an admin route is authenticated but not authorised.
        e = self.assertError(self.srv.api("GET", "/admin/keys", key=self.key), 403,
                             "permission_denied")
        self.assertEqual(e["type"], "permission_error")
        kid, k = self.srv.new_key("revoked", "1.00")
        self.assertEqual(self.srv.api("GET", "/v1/me", key=k)[0], 200)
        st, _, j = self.srv.api("DELETE", "/admin/keys/" + kid, key=self.srv.admin_key)
        self.assertEqual((st, j["status"]), (200, "revoked"))
        self.assertError(self.srv.api("GET", "/v1/me", key=k), 401, "invalid_api_key")

    def test_keys_are_not_stored_in_clear(self):
        _, secret = self.srv.new_key("hashcheck", "1.00")
        rows = self.srv.sql("SELECT hash FROM keys")
        self.assertTrue(all(len(r[0]) == 64 for r in rows))
        self.assertFalse(any(secret in r[0] for r in rows))
        self.assertNotIn(secret, self.srv.log_text())
        self.assertNotIn(self.srv.admin_key, self.srv.log_text())

    def test_isolation_between_keys(self):
        st, _, j = self.srv.api("POST", "/v1/video/generations", body(), key=self.key)
        tid = j["id"]
        for method, path in [("GET", "/v1/video/generations/" + tid),
                             ("DELETE", "/v1/video/generations/" + tid),
                             ("GET", "/v1/videos/%s/content" % tid)]:
            with self.subTest(path=path, method=method):
                self.assertError(self.srv.api(method, path, key=self.other), 404, "task_not_found")
        st, _, lst = self.srv.api("GET", "/v1/video/generations?limit=100", key=self.other)
        self.assertNotIn(tid, [t["id"] for t in lst["data"]])
        self.assertError(self.srv.api("GET", "/v1/video/generations/task_nope", key=self.key),
                         404, "task_not_found")

    def test_request_errors(self):
        p = "/v1/video/generations"
        self.assertError(self.srv.api("POST", p, raw_body=b"{not json", key=self.key,
                                      headers={"Content-Type": "application/json"}),
                         400, "invalid_json")
        self.assertError(self.srv.api("POST", p, raw_body=b"[1,2]", key=self.key), 400,
                         "invalid_json")
        deep = b"[" * 40 + b"]" * 40
        self.assertError(self.srv.api("POST", p, raw_body=b'{"a":' + deep + b"}", key=self.key),
                         400, "invalid_json")
        big = json.dumps(body(prompt="x" * (1 << 20))).encode()
        self.assertError(self.srv.api("POST", p, raw_body=big, key=self.key), 413,
                         "request_too_large")
        self.assertError(self.srv.api("POST", p, raw_body=b"{}", key=self.key,
                                      headers={"Content-Type": "image/png"}),
                         415, "unsupported_media_type")
        self.assertError(self.srv.api("PUT", p, body(), key=self.key), 405, "method_not_allowed")
        self.assertError(self.srv.api("GET", "/v1/nothing", key=self.key), 404, "not_found")

    def test_request_id_echo(self):
        st, h, _ = self.srv.api("GET", "/healthz", headers={"X-Request-Id": "abc-123"})
        self.assertEqual(h["x-request-id"], "abc-123")
        for bad in ("bad id with spaces", "x" * 200):
            st, h, _ = self.srv.api("GET", "/healthz", headers={"X-Request-Id": bad})
            self.assertTrue(h["x-request-id"].startswith("req_"), h)

    def test_insufficient_quota(self):
        _, poor = self.srv.new_key("poor", "0.01")
        e = self.assertError(self.srv.api("POST", "/v1/video/generations", body(), key=poor), 402,
                             "insufficient_quota")
        self.assertEqual(e["type"], "insufficient_quota")

    def test_model_not_allowed(self):
        _, k = self.srv.new_key("mini-only", "10.00", allowed_models=["doubao-seedance-2-0-mini"])
        self.assertError(self.srv.api("POST", "/v1/video/generations", body(), key=k), 403,
                         "model_not_allowed", "model")

    def test_me_and_hold(self):
        _, k = self.srv.new_key("holder", "10.00")
        st, _, me = self.srv.api("GET", "/v1/me", key=k)
        self.assertEqual((me["balance"], me["held"], me["available"]),
                         ("10.000000", "0.000000", "10.000000"))
        self.srv.api("POST", "/v1/video/generations",
                     body(model=PRO, metadata=meta(resolution="720p", ratio="16:9"), seconds="5"),
                     key=k)
        me = self.srv.api("GET", "/v1/me", key=k)[2]
        # 720p 16:9 5 s = 108,900 tokens at 7.0 per 1M = 0.762300
        self.assertIn(me["held"], ("0.762300", "0.000000"))  # 0 once it completed and settled

    def test_list_paging_and_filter(self):
        _, k = self.srv.new_key("lister", "100.00")
        ids = [self.srv.api("POST", "/v1/video/generations", body(), key=k)[2]["id"]
               for _ in range(5)]
        st, _, page1 = self.srv.api("GET", "/v1/video/generations?limit=2", key=k)
        self.assertEqual(st, 200)
        self.assertEqual(page1["object"], "list")
        self.assertEqual([t["id"] for t in page1["data"]], ids[::-1][:2])
        self.assertTrue(page1["has_more"])
        st, _, page2 = self.srv.api("GET", "/v1/video/generations?limit=2&after=" +
                                    page1["last_id"], key=k)
        self.assertEqual([t["id"] for t in page2["data"]], ids[::-1][2:4])
        st, _, page3 = self.srv.api("GET", "/v1/video/generations?limit=2&after=" +
                                    page2["last_id"], key=k)
        self.assertEqual([t["id"] for t in page3["data"]], ids[:1])
        self.assertFalse(page3["has_more"])
        self.assertError(self.srv.api("GET", "/v1/video/generations?limit=0", key=k), 400,
                         "invalid_parameter", "limit")
        for junk in ("2x", "%202", "+2", "", "99999999999999999999"):  # one validating helper
            self.assertError(self.srv.api("GET", "/v1/video/generations?limit=" + junk, key=k),
                             400, "invalid_parameter", "limit")
        self.assertError(self.srv.api("GET", "/v1/video/generations?status=nope", key=k), 400,
                         "invalid_parameter", "status")

    def test_admin_key_routes(self):
        a = self.srv.admin_key
        self.assertError(self.srv.api("POST", "/admin/keys", {"balance": "1"}, key=a), 400,
                         "missing_parameter", "name")
        self.assertError(self.srv.api("POST", "/admin/keys", {"name": "x", "balance": "-1"},
                                      key=a), 400, "invalid_parameter", "balance")
        st, _, j = self.srv.api("POST", "/admin/keys", {"name": "carol", "balance": 12.5}, key=a)
        self.assertEqual(st, 201, j)
        self.assertRegex(j["key"], r"^sk-[A-Za-z0-9_-]{40}$")
        self.assertEqual(j["balance"], "12.500000")
        st, _, got = self.srv.api("GET", "/admin/keys/" + j["id"], key=a)
        self.assertEqual(got["name"], "carol")
        self.assertNotIn("key", got)
        st, _, lst = self.srv.api("GET", "/admin/keys", key=a)
        self.assertIn(j["id"], [k["id"] for k in lst["data"]])
        self.assertError(self.srv.api("GET", "/admin/keys/key_nope", key=a), 404, "key_not_found")


if __name__ == "__main__":
    unittest.main()
