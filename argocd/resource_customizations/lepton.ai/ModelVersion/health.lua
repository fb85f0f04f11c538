-- Argo CD health of a Lepton ModelVersion (lepton.ai/v1alpha1), from status.phase as the operator
-- writes it (operator/lepton/policies/verification.py): Pending and Verifying are Progressing,
-- Ready (digest matches, the model loads) is Healthy, Failed verification is Degraded.
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
  hs.message = "ModelVersion is being deleted"
  return hs
end
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the ModelVersion's status"
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
if phase == "Pending" then
  hs.status = "Progressing"
  hs.message = said("Verified", "Waiting for verification")
elseif phase == "Verifying" then
  hs.status = "Progressing"
  hs.message = said("Verified", "Verifying the artifact")
elseif phase == "Ready" then
  hs.status = "Healthy"
  hs.message = said("Ready", "Verified and ready to serve")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = said("Verified", "Verification failed")
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
