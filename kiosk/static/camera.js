// Reads the camera in the page and decodes QR codes with the vendored zxing-wasm (no CDN): the decoded
// token goes into the same field a USB scanner types into, and the same form is submitted.
(function () {
  "use strict";
  var WASM_URL = "/assets/zxing-wasm/zxing_reader.wasm";
  var SCAN_INTERVAL_MS = 150;
  var section = document.getElementById("camera");
  if (!section || !window.ZXingWASM || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  window.ZXingWASM.prepareZXingModule({
    overrides: {
      locateFile: function (path, prefix) {
        return path.endsWith(".wasm") ? WASM_URL : prefix + path;
      },
    },
    fireImmediately: true,
  });
  section.hidden = false;
  var start = document.getElementById("camera-start");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  var field = document.getElementById("card-token");
  var form = document.getElementById("scan-form");
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var busy = false;
  var done = false;

  function scanFrame() {
    if (done || busy || video.readyState < 2 || !video.videoWidth) {
      return;
    }
    busy = true;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    var frame = context.getImageData(0, 0, canvas.width, canvas.height);
    window.ZXingWASM.readBarcodes(frame, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 })
      .then(function (results) {
        var found = results.find(function (result) {
          return result.isValid && result.text;
        });
        if (found && !done) {
          done = true;
          status.textContent = "Card found. Checking it…";
          field.value = found.text;
          form.requestSubmit();
        }
      })
      .catch(function () {
        status.textContent = "The camera could not read the card. Use the scanner or type the number.";
      })
      .finally(function () {
        busy = false;
      });
  }

  start.addEventListener("click", function () {
    start.disabled = true;
    status.textContent = "Starting the camera…";
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        return video.play();
      })
      .then(function () {
        status.textContent = "Hold the card's QR code up to the camera.";
        window.setInterval(scanFrame, SCAN_INTERVAL_MS);
      })
      .catch(function () {
        start.disabled = false;
        status.textContent = "The camera is not available. Use the scanner or type the number.";
      });
  });
})();
