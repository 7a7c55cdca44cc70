-- wrk script for bench/api_load.py: contract_detail (GET; paths from APILOAD_PATHS, see common.lua).
package.path = os.getenv("APILOAD_DIR") .. "/?.lua;" .. package.path
require("common").install("GET")
