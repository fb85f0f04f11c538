-- Argo CD health of a Lepton TrainingJob (lepton.ai/v1alpha1), from status.phase as the operator
-- writes it (operator/lepton/policies/job_status.py). Like Argo CD's batch/Job: a job that has not
-- finished is Progressing, Succeeded is Healthy, Failed is Degraded; Suspended is Suspended.
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
  hs.message = "TrainingJob is being deleted"
  return hs
end
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the TrainingJob's status"
  return hs
end
-- A status computed from an older spec says nothing about the current one.
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = obj.status.phase
if phase == "Created" then
  hs.status = "Progressing"
  hs.message = said("Created", "Created, not yet queued")
elseif phase == "Queued" then
  hs.status = "Progressing"
  local why = obj.status.admissionMessage
  if why == nil or why == "" then
    why = said("Queued", "waiting for resources")
  end
  hs.message = "Queued: " .. why
elseif phase == "Admitted" then
  hs.status = "Progressing"
  hs.message = said("Admitted", "Gang admitted, creating workers")
elseif phase == "Running" then
  hs.status = "Progressing"
  hs.message = said("Running", "Workers running")
elseif phase == "Restarting" then
  -- The operator restarts on its own (within backoffLimit): still on its way, not yet broken.
  hs.status = "Progressing"
  hs.message = "Restarting (restart " .. tostring(obj.status.restartCount or 0) .. "): "
    .. said("Restarting", "restarting the workers")
elseif phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = said("Succeeded", "Training succeeded")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = said("Failed", "Training failed")
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = said("Suspended", "Suspended")
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
