-- bench/lib/rotate.lua - wrk script for B3: status polls that cycle through many tasks of one key
-- (ids in the file named by VG_IDS, one per line; the key in VG_KEY), each thread starting at its
-- own offset, so that the store's lookups touch the whole set rather than one hot row.
local ids = {}
for line in io.lines(os.getenv("VG_IDS")) do
    if #line > 0 then ids[#ids + 1] = line end
end
local key = os.getenv("VG_KEY")
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

function init(args)
    i = (tid * 7919) % #ids
    headers = {["Authorization"] = "Bearer " .. key}
end

function request()
    i = i % #ids + 1
    return wrk.format("GET", "/v1/video/generations/" .. ids[i], headers)
end
