-- Argo CD health of a Lepton InferenceService (lepton.ai/v1alpha1), from status.phase as the
-- operator writes it (operator/lepton/policies/inference.py): Ready serves all traffic (Healthy),
-- ScaledToZero is an intended idle state that wakes on demand (Healthy, as a Deployment scaled to
-- 0 is); Pending, Deploying and RollingOut are on their way (Progressing); Degraded (fewer ready
-- replicas than wanted) and Failed are Degraded.
-- Argo CD runs this without the string library: only base and table functions are used.
local hs = {}

local function condition(kind)
  if obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- The message of the phase's own condition (it says why), else its reason, else the fallback.
local function said(kind, fallback)
  local c = condition(kind)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "InferenceService is being deleted"
  return hs
end
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the InferenceService's status"
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = obj.status.phase
if phase == "Ready" then
  hs.status = "Healthy"
  hs.message = said("Ready", "Ready")
elseif phase == "ScaledToZero" then
  hs.status = "Healthy"
  hs.message = said("Ready", "Scaled to zero; the next request scales it up")
elseif phase == "Activating" then
  hs.status = "Progressing"
  hs.message = said("Ready", "Scaling up from zero; requests are held")
elseif phase == "Pending" then
  hs.status = "Progressing"
  hs.message = said("Ready", "Waiting for a ready ModelVersion")
elseif phase == "Deploying" then
  hs.status = "Progressing"
  hs.message = said("Ready", "Deploying")
elseif phase == "RollingOut" then
  hs.status = "Progressing"
  hs.message = said("RolloutProgressing", "Rolling out a new version")
elseif phase == "Degraded" then
  hs.status = "Degraded"
  hs.message = said("Degraded", "Degraded")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = said("Ready", "Failed")
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
