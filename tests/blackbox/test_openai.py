"""The OpenAI-compatible Videos API (spec §4) over real HTTP: JSON and multipart/form-data submits
(the multipart bodies built here with the standard library, as the official SDKs send them:
bracketed object keys, file parts, JSON text parts), the `video` object through its life, list
paging with after/limit/order, delete semantics (queued → cancelled, running → 409, finished →
video.deleted and content 410), remix → 400 unsupported, GET /v1/models, the ?format=envelope view
of the native route, and every refusal in the one error envelope."""
import json
import secrets
import time
import unittest

from harness import Server
from images import png_bytes

FAST = "doubao-seedance-2-0-fast"
PRO = "doubao-seedance-2-0"
PNG = png_bytes(640, 360)
SMALL = {"model": FAST, "seconds": "4", "size": "864x496"}
VIDEO_KEYS = {"id", "object", "model", "status", "progress", "created_at", "completed_at",
              "expires_at", "prompt", "seconds", "size", "remixed_from_video_id", "error",
              "metadata"}


def multipart(fields, files=(), boundary=None):
    """(body, content type) for fields [(name, text)] and files [(name, filename, type, bytes)]."""
    boundary = boundary or "----vgtest" + secrets.token_hex(12)
    out = bytearray()
    for name, value in fields:
        out += b"--%s\r\n" % boundary.encode()
        out += b'Content-Disposition: form-data; name="%s"\r\n\r\n' % name.encode()
        out += value.encode() if isinstance(value, str) else value
        out += b"\r\n"
    for name, filename, ctype, data in files:
        out += b"--%s\r\n" % boundary.encode()
        out += b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n' % (
            name.encode(), filename.encode())
        if ctype:
            out += b"Content-Type: %s\r\n" % ctype.encode()
        out += b"\r\n" + data + b"\r\n"
    out += b"--%s--\r\n" % boundary.encode()
    return bytes(out), "multipart/form-data; boundary=" + boundary


class OpenAIVideosTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.key_id, cls.key = cls.srv.new_key("openai", "1000.00")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    # -- helpers -----------------------------------------------------------------------------
    def api(self, method, path, body=None, key=None, **kw):
        return self.srv.api(method, path, body, key=key or self.key, **kw)

    def post_form(self, fields, files=(), key=None, headers=None):
        body, ctype = multipart(fields, files)
        hdrs = {"Content-Type": ctype}
        hdrs.update(headers or {})
        return self.srv.api("POST", "/v1/videos", key=key or self.key, headers=hdrs, raw_body=body)

    def assertError(self, resp, status, code, param=None):
        st, _, j = resp
        self.assertEqual(st, status, j)
        self.assertEqual(set(j.keys()), {"error"}, j)
        self.assertEqual(set(j["error"].keys()), {"message", "type", "code", "param"}, j)
        self.assertEqual(j["error"]["code"], code, j)
        if param is not None:
            self.assertEqual(j["error"]["param"], param, j)
        return j["error"]

    def wait_video(self, vid, key=None, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, _, v = self.api("GET", "/v1/videos/" + vid, key=key)
            self.assertEqual(st, 200, v)
            if v["status"] in ("completed", "failed"):
                return v
            time.sleep(0.1)
        raise AssertionError("video %s not finished after %ss" % (vid, timeout))

    def native(self, vid, key=None):
        return self.api("GET", "/v1/video/generations/" + vid, key=key)[2]

    # -- submit --------------------------------------------------------------------------------
    def test_json_submit_and_lifecycle(self):
        st, _, v = self.api("POST", "/v1/videos", {"prompt": "a lighthouse at dusk",
                                                   "seconds": "4", "size": "864x496"})
        self.assertEqual(st, 200, v)
        self.assertEqual(set(v.keys()), VIDEO_KEYS)
        self.assertRegex(v["id"], r"^task_[0-9A-HJKMNP-TV-Z]{26}$")
        self.assertEqual((v["object"], v["model"], v["status"], v["progress"]),
                         ("video", PRO, "queued", 0))  # default model: the first of the table
        self.assertEqual((v["prompt"], v["seconds"], v["size"]),
                         ("a lighthouse at dusk", "4", "864x496"))
        self.assertIsNone(v["remixed_from_video_id"])
        self.assertIsNone(v["error"])
        self.assertIsNone(v["completed_at"])
        done = self.wait_video(v["id"])
        self.assertEqual(done["status"], "completed", done)
        self.assertEqual(done["progress"], 100)
        self.assertIsInstance(done["completed_at"], int)
        self.assertIsInstance(done["expires_at"], int)
        self.assertEqual(done["usage"]["completion_tokens"], 864 * 496 * (24 * 4 + 1) // 1024)
        self.assertIn("/files/%s/video?" % v["id"], done["metadata"]["url"])
        r = self.srv.request("GET", done["metadata"]["url"])  # presigned: no key needed
        self.assertEqual((r.status, r.headers["content-type"]), (200, "video/mp4"))
        r = self.srv.request("GET", "/v1/videos/%s/content?variant=video" % v["id"], key=self.key)
        self.assertEqual(r.status, 200)
        r = self.srv.request("GET", "/v1/videos/%s/content?variant=thumbnail" % v["id"],
                             key=self.key)
        self.assertEqual(r.status, 200)
        # The same task through the native route.
        t = self.native(v["id"])
        self.assertEqual((t["status"], t["resolution"], t["ratio"]), ("completed", "480p", "16:9"))

    def test_json_input_reference_object(self):
        import base64
        url = "data:image/png;base64," + base64.b64encode(png_bytes(360, 640)).decode()
        st, _, v = self.api("POST", "/v1/videos", {"model": FAST, "prompt": "portrait",
                                                   "seconds": 4, "input_reference":
                                                   {"image_url": url},
                                                   "metadata": {"resolution": "480p"}})
        self.assertEqual(st, 200, v)
        self.assertEqual(v["size"], "496x864")  # adaptive ratio followed the first frame
        self.assertError(self.api("POST", "/v1/videos", {"prompt": "x", "input_reference":
                                                         {"image_url": "ftp://a/b.png"}}),
                         400, "invalid_image", "input_reference")

    def test_multipart_submit_with_file_and_bracketed_fields(self):
        # The SDK's encoding: objects as name[key], a file part without a useful Content-Type
        # (the type comes from the PNG signature).
        st, _, v = self.post_form(
            [("model", FAST), ("prompt", "a kite over the sea"), ("seconds", "4"),
             ("size", "864x496"), ("metadata[seed]", "7"), ("metadata[return_last_frame]", "true"),
             ("metadata[ignored_key]", "x")],
            [("input_reference", "frame.png", "application/octet-stream", PNG)])
        self.assertEqual(st, 200, v)
        self.assertEqual((v["model"], v["size"], v["seconds"], v["prompt"]),
                         (FAST, "864x496", "4", "a kite over the sea"))
        done = self.wait_video(v["id"])
        self.assertEqual(done["status"], "completed", done)
        t = self.native(v["id"])
        self.assertEqual((t["seed"], t["ratio"]), (7, "16:9"))
        r = self.srv.request("GET", "/v1/videos/%s/content?variant=last_frame" % v["id"],
                             key=self.key)
        self.assertEqual((r.status, r.headers["content-type"]), (200, "image/png"))

    def test_multipart_metadata_json_part_and_images(self):
        st, _, v = self.post_form(
            [("model", FAST), ("prompt", "square"), ("seconds", "4"),
             ("metadata", json.dumps({"resolution": "480p", "ratio": "1:1", "seed": 11})),
             ("metadata[seed]", "12")])  # bracketed keys win over the JSON part
        self.assertEqual(st, 200, v)
        self.assertEqual(v["size"], "640x640")
        self.assertEqual(self.native(v["id"])["seed"], 12)
        # images[] as repeated file parts (two images = references, not a first frame).
        st, _, v = self.post_form(
            [("model", FAST), ("prompt", "refs"), ("seconds", "4"), ("size", "864x496")],
            [("images[]", "a.png", "image/png", PNG), ("images[]", "b.png", None, PNG)])
        self.assertEqual(st, 200, v)

    def test_size_refusals(self):
        e = self.assertError(self.post_form([("model", FAST), ("prompt", "x"),
                                             ("size", "1792x1024")]),
                             400, "unsupported_resolution", "size")
        self.assertIn("1080p", e["message"])  # OpenAI's 1792x1024 is 1080p 16:9
        self.assertError(self.post_form([("prompt", "x"), ("size", "1000x1000")]), 400,
                         "invalid_resolution", "size")

    def test_multipart_idempotency(self):
        hdr = {"Idempotency-Key": "oai-" + secrets.token_hex(8)}
        fields = [("model", FAST), ("prompt", "once"), ("seconds", "4"), ("size", "864x496")]
        st1, _, a = self.post_form(fields, headers=hdr)
        st2, h2, b = self.post_form(fields, headers=hdr)  # another boundary, same form
        self.assertEqual((st1, st2), (200, 200), (a, b))
        self.assertEqual(a["id"], b["id"])
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertError(self.post_form(fields[:-1] + [("size", "640x640")], headers=hdr), 422,
                         "idempotency_key_reused")

    def test_multipart_upload_idempotency(self):
        # The uploaded bytes count in the body hash (hashed off the loop, see api/tasks.c).
        hdr = {"Idempotency-Key": "oai-" + secrets.token_hex(8)}
        fields = [("model", FAST), ("prompt", "once"), ("seconds", "4"), ("size", "864x496")]
        other = png_bytes(360, 640)
        st1, _, a = self.post_form(fields, [("input_reference", "a.png", "image/png", PNG)],
                                   headers=hdr)
        st2, h2, b = self.post_form(fields, [("input_reference", "b.png", None, PNG)],
                                    headers=hdr)
        self.assertEqual((st1, st2), (200, 200), (a, b))
        self.assertEqual(a["id"], b["id"])
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertError(self.post_form(fields, [("input_reference", "a.png", "image/png",
                                                  other)], headers=hdr),
                         422, "idempotency_key_reused")
        self.assertError(self.post_form(fields, headers=hdr), 422, "idempotency_key_reused")
        # A file under a name the validator ignores still tells two bodies apart.
        hdr = {"Idempotency-Key": "oai-" + secrets.token_hex(8)}
        files = [("input_reference", "a.png", "image/png", PNG)]
        st, _, c = self.post_form(fields, files + [("extra", "x.png", "image/png", PNG)],
                                  headers=hdr)
        self.assertEqual(st, 200, c)
        self.assertError(self.post_form(fields, files + [("extra", "x.png", "image/png", other)],
                                        headers=hdr),
                         422, "idempotency_key_reused")
        # A bad upload is refused before any record is written: the key stays free.
        hdr = {"Idempotency-Key": "oai-" + secrets.token_hex(8)}
        self.assertError(self.post_form(fields, [("input_reference", "bad.png", "image/png",
                                                  b"\x89PNG\r\n\x1a\nnot really")],
                                        headers=hdr),
                         400, "invalid_image", "input_reference")
        st, _, d = self.post_form(fields, files, headers=hdr)
        self.assertEqual(st, 200, d)

    def test_upload_references_cannot_be_written(self):
        # What names an uploaded part inside the server is not a URL a client can send.
        ref = "upload:" + "0" * 32 + ":0"
        self.assertError(self.api("POST", "/v1/videos", dict(SMALL, prompt="x",
                                                             input_reference=ref)),
                         400, "invalid_image", "input_reference")
        self.assertError(self.post_form([("model", FAST), ("prompt", "x"), ("seconds", "4"),
                                         ("input_reference", ref)],
                                        [("extra", "a.png", "image/png", PNG)]),
                         400, "invalid_image", "input_reference")
        st, _, j = self.srv.submit(self.key, images=[ref])
        self.assertEqual(st, 400, j)

    # -- errors --------------------------------------------------------------------------------
    def test_multipart_refusals(self):
        base = [("model", FAST), ("prompt", "x"), ("seconds", "4")]
        raw = lambda body, ctype: self.srv.api("POST", "/v1/videos", key=self.key, raw_body=body,
                                              headers={"Content-Type": ctype})
        self.assertError(raw(b"--b\r\n", "multipart/form-data"), 400, "invalid_parameter")
        body, ctype = multipart(base)
        self.assertError(raw(body[:-8], ctype), 400, "invalid_parameter")  # no closing delimiter
        self.assertError(raw(b"--zz\r\nContent-Disposition: form-data\r\n\r\nv\r\n--zz--",
                             "multipart/form-data; boundary=zz"), 400, "invalid_parameter")
        self.assertError(raw(b"{}", "image/png"), 415, "unsupported_media_type")
        self.assertError(self.post_form(base, [("input_reference", "a.txt", "text/csv",
                                                b"a,b\n1,2\n")]),
                         400, "invalid_image", "input_reference")
        self.assertError(self.post_form(base, [("input_reference", "bad.png", "image/png",
                                                b"\x89PNG\r\n\x1a\nnot really")]),
                         400, "invalid_image", "input_reference")
        self.assertError(self.post_form(base + [("prompt", "again")]), 400, "invalid_parameter",
                         "prompt")
        self.assertError(self.post_form(base + [("metadata[a", "1")]), 400, "invalid_parameter")
        self.assertError(self.post_form(base + [("metadata[seed]", "-5")]), 400,
                         "invalid_parameter", "metadata.seed")
        self.assertError(self.post_form(base + [("metadata[watermark]", "yes")]), 400,
                         "invalid_parameter", "metadata.watermark")
        self.assertError(self.post_form([("prompt", "x"), ("model", "sora-2")]), 404,
                         "model_not_found", "model")
        self.assertError(self.post_form([("model", FAST)]), 400, "missing_parameter", "prompt")
        self.assertError(self.post_form([("model", FAST), ("prompt", b"\xff\xfe")]), 400,
                         "invalid_parameter", "prompt")
        self.assertError(self.post_form(base, key="sk-nope"), 401, "invalid_api_key")

    def test_size_caps(self):
        big = {"prompt": "x" * (1 << 20)}
        self.assertError(self.api("POST", "/v1/videos", big), 413, "request_too_large")
        huge = b"\0" * ((30 << 20) + 1)  # one part over its 30 MiB cap, the body under 40 MiB
        self.assertError(self.post_form([("prompt", "x")], [("input_reference", "a.png",
                                                             "image/png", huge)]),
                         413, "request_too_large")

    def test_retrieve_errors_and_remix(self):
        self.assertError(self.api("GET", "/v1/videos/task_00000000000000000000000000"), 404,
                         "task_not_found")
        self.assertError(self.srv.api("GET", "/v1/videos/x"), 401, "invalid_api_key")
        st, _, v = self.api("POST", "/v1/videos", dict(SMALL, prompt="remix me"))
        self.assertEqual(st, 200, v)
        self.assertError(self.api("POST", "/v1/videos/%s/remix" % v["id"], {"prompt": "again"}),
                         400, "unsupported")
        self.assertError(self.api("GET", "/v1/videos/%s?wait=61" % v["id"]), 400,
                         "invalid_parameter", "wait")
        self.assertEqual(self.api("GET", "/v1/videos/%s?wait=0" % v["id"])[0], 200)
        # Another key sees nothing of it.
        _, other = self.srv.new_key("stranger", "1.00")
        self.assertError(self.api("GET", "/v1/videos/" + v["id"], key=other), 404,
                         "task_not_found")
        self.assertError(self.api("DELETE", "/v1/videos/" + v["id"], key=other), 404,
                         "task_not_found")

    # -- list ----------------------------------------------------------------------------------
    def test_list_paging(self):
        _, key = self.srv.new_key("lister", "100.00")
        ids = []
        for i in range(3):
            st, _, v = self.api("POST", "/v1/videos", dict(SMALL, prompt="list %d" % i), key=key)
            self.assertEqual(st, 200, v)
            ids.append(v["id"])
        newest_first = sorted(ids, reverse=True)  # ids are time-ordered
        st, _, p1 = self.api("GET", "/v1/videos?limit=2", key=key)
        self.assertEqual(st, 200, p1)
        self.assertEqual(p1["object"], "list")
        self.assertEqual([v["id"] for v in p1["data"]], newest_first[:2])
        self.assertEqual((p1["first_id"], p1["last_id"], p1["has_more"]),
                         (newest_first[0], newest_first[1], True))
        self.assertTrue(all(v["object"] == "video" for v in p1["data"]))
        st, _, p2 = self.api("GET", "/v1/videos?limit=2&after=" + p1["last_id"], key=key)
        self.assertEqual([v["id"] for v in p2["data"]], newest_first[2:])
        self.assertFalse(p2["has_more"])
        st, _, asc = self.api("GET", "/v1/videos?order=asc&limit=2", key=key)
        self.assertEqual([v["id"] for v in asc["data"]], sorted(ids)[:2])
        st, _, asc2 = self.api("GET", "/v1/videos?order=asc&after=" + asc["last_id"], key=key)
        self.assertEqual([v["id"] for v in asc2["data"]], sorted(ids)[2:])
        st, _, empty = self.api("GET", "/v1/videos?after=" + newest_first[-1], key=key)
        self.assertEqual((empty["data"], empty["first_id"], empty["last_id"], empty["has_more"]),
                         ([], None, None, False))
        self.assertError(self.api("GET", "/v1/videos?order=up", key=key), 400,
                         "invalid_parameter", "order")
        self.assertError(self.api("GET", "/v1/videos?limit=101", key=key), 400,
                         "invalid_parameter", "limit")

    # -- envelope and models -------------------------------------------------------------------
    def test_envelope_format(self):
        st, _, v = self.api("POST", "/v1/videos", dict(SMALL, prompt="envelope"))
        self.assertEqual(st, 200, v)
        st, _, e = self.api("GET", "/v1/video/generations/%s?format=envelope" % v["id"])
        self.assertEqual(st, 200, e)
        self.assertEqual(e["code"], "success")
        self.assertIn(e["data"]["status"], ("QUEUED", "IN_PROGRESS", "SUCCESS"))
        self.assertRegex(e["data"]["progress"], r"^\d{1,3}%$")
        self.wait_video(v["id"])
        st, _, e = self.api("GET", "/v1/video/generations/%s?format=envelope" % v["id"])
        d = e["data"]
        self.assertEqual((d["status"], d["progress"], d["task_id"]), ("SUCCESS", "100%", v["id"]))
        self.assertIn("/files/%s/video?" % v["id"], d["result_url"])
        self.assertEqual(d["size"], "864x496")
        self.assertError(self.api("GET", "/v1/video/generations/%s?format=xml" % v["id"]), 400,
                         "invalid_parameter", "format")
        # Without format the native object is unchanged.
        t = self.native(v["id"])
        self.assertEqual((t["status"], t["progress"]), ("completed", 100))

    def test_models(self):
        st, _, m = self.api("GET", "/v1/models")
        self.assertEqual(st, 200, m)
        self.assertEqual(m["object"], "list")
        self.assertEqual([x["id"] for x in m["data"]], [PRO, FAST, "doubao-seedance-2-0-mini"])
        self.assertTrue(all(x["object"] == "model" for x in m["data"]))
        self.assertIn("pricing", m["data"][0])
        st, _, one = self.api("GET", "/v1/models/" + FAST)
        self.assertEqual((st, one["id"], one["resolutions"]), (200, FAST, ["480p", "720p"]))
        self.assertError(self.api("GET", "/v1/models/sora-2"), 404, "model_not_found")
        self.assertError(self.srv.api("GET", "/v1/models"), 401, "invalid_api_key")


class OpenAIDeleteTest(unittest.TestCase):
    """One render worker, kept busy by a long render, so that later tasks stay queued."""
    LONG = {"model": PRO, "seconds": "10", "size": "1920x1080"}

    def setUp(self):
        self.srv = Server(env={"VIDGATE_RENDER_WORKERS": "1"})
        self.key_id, self.key = self.srv.new_key("deleter", "1000.00")

    def tearDown(self):
        self.srv.close()

    def api(self, method, path, body=None):
        return self.srv.api(method, path, body, key=self.key)

    def check_size_mapping(self):
        """While the worker is busy: OpenAI sizes through the table, seen on queued tasks."""
        cases = [("1280x720", "720p", "16:9"), ("720x1280", "720p", "9:16"),
                 ("1792x1024", "1080p", "16:9"), ("1024x1792", "1080p", "9:16"),
                 ("496x864", "480p", "9:16")]
        for size, res, ratio in cases:
            body, ctype = multipart([("prompt", "sizes"), ("size", size), ("seconds", "4")])
            st, _, v = self.srv.api("POST", "/v1/videos", key=self.key, raw_body=body,
                                    headers={"Content-Type": ctype})
            self.assertEqual((st, v["model"], v["size"]), (200, PRO, size if res != "1080p" else
                                                           {"16:9": "1920x1080",
                                                            "9:16": "1080x1920"}[ratio]), v)
            st, _, t = self.api("GET", "/v1/video/generations/" + v["id"])
            self.assertEqual((t["status"], t["resolution"], t["ratio"]), ("queued", res, ratio))
            st, _, c = self.api("DELETE", "/v1/videos/" + v["id"])
            self.assertEqual((st, c["status"], c["error"]["code"]), (200, "failed", "cancelled"))

    def test_delete_semantics(self):
        st, _, a = self.api("POST", "/v1/videos", dict(self.LONG, prompt="long one"))
        self.assertEqual(st, 200, a)
        self.srv.wait_task(a["id"], self.key, until=("running", "completed", "failed"))
        st, _, running = self.api("GET", "/v1/videos/" + a["id"])
        self.assertEqual(running["status"], "in_progress", running)
        st, _, b = self.api("POST", "/v1/videos", {"model": FAST, "prompt": "waiting",
                                                   "seconds": "4", "size": "864x496"})
        self.assertEqual(st, 200, b)
        self.check_size_mapping()
        # Queued: cancelled, shown as failed with error "cancelled".
        st, _, c = self.api("DELETE", "/v1/videos/" + b["id"])
        self.assertEqual(st, 200, c)
        self.assertEqual((c["object"], c["status"], c["error"]["code"]),
                         ("video", "failed", "cancelled"))
        st, _, e = self.api("GET", "/v1/video/generations/%s?format=envelope" % b["id"])
        self.assertEqual((e["data"]["status"], e["data"]["fail_reason"] != ""), ("FAILURE", True))
        # Running: 409.
        st, _, e = self.api("DELETE", "/v1/videos/" + a["id"])
        self.assertEqual((st, e["error"]["code"]), (409, "task_not_cancellable"))
        # Finished: files deleted, OpenAI's deletion object, content 410; then the video is gone
        # from the OpenAI routes (404 to retrieve and to delete again, as at OpenAI).
        done = self.srv.wait_task(a["id"], self.key, timeout=300)
        self.assertEqual(done["status"], "completed", done)
        st, _, d = self.api("DELETE", "/v1/videos/" + a["id"])
        self.assertEqual((st, d), (200, {"id": a["id"], "object": "video.deleted",
                                         "deleted": True}))
        st, _, e = self.api("DELETE", "/v1/videos/" + a["id"])
        self.assertEqual((st, e["error"]["code"]), (404, "video_not_found"))
        st, _, e = self.api("GET", "/v1/videos/%s/content" % a["id"])
        self.assertEqual((st, e["error"]["code"]), (410, "video_deleted"))
        st, _, e = self.api("GET", "/v1/videos/" + a["id"])
        self.assertEqual((st, e["error"]["code"]), (404, "video_not_found"))
        # A cancelled task has no files; deleting it now reports the deletion.
        st, _, d = self.api("DELETE", "/v1/videos/" + b["id"])
        self.assertEqual((st, d["object"], d["deleted"]), (200, "video.deleted", True))


if __name__ == "__main__":
    unittest.main()
