-- Argo CD health check for every jobkeeper kind (QuarksJob, ReactiveJob, NodeJob, NodeJobRun): they share the
-- kstatus conditions, so one script serves them all. In kstatus terms:
--   status not written yet, or written for an older generation  -> Progressing
--   being deleted                                               -> Progressing
--   Stalled=True                                                -> Degraded
--   Reconciling=True (working, or retrying after an error)      -> Progressing
--   Ready=True                                                  -> Healthy
--   anything else (a run or Job active, queued or waiting)      -> Progressing
local hs = {status = "Progressing", message = "Waiting for the operator to observe the " .. (obj.kind or "object")}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end

if obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Being deleted"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready, stalled, reconciling
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Stalled" then
    stalled = c
  elseif c.type == "Reconciling" then
    reconciling = c
  end
end

local function describe(c)
  local text = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
elseif ready ~= nil then
  hs.message = describe(ready)
end
return hs
