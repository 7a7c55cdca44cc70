-- wrk script for bench/api_load.py: block (POST; paths from APILOAD_PATHS, see common.lua).
package.path = os.getenv("APILOAD_DIR") .. "/?.lua;" .. package.path
require("common").install("POST")
