/* The public functions of the hot sources, renamed to NAME##AL_ISA_SUFFIX in each variant
 * (see al_isa.h). One line per function: audiolab/_build_kernels.py reads this list to
 * generate the dispatching functions of the same names. A public function of a hot source
 * missing here is defined by every variant and fails the link. */
#ifndef AL_ISA_NAMES_H
#define AL_ISA_NAMES_H

#define AL_ISA_CAT_(a, b) a##b
#define AL_ISA_CAT(a, b) AL_ISA_CAT_(a, b)
#define AL_ISA_NAME(n) AL_ISA_CAT(n, AL_ISA_SUFFIX)

#define al_ci_process AL_ISA_NAME(al_ci_process)
#define al_gain_process AL_ISA_NAME(al_gain_process)
#define al_gt_analyze AL_ISA_NAME(al_gt_analyze)
#define al_gt_process AL_ISA_NAME(al_gt_process)
#define al_gt_synthesize AL_ISA_NAME(al_gt_synthesize)
#define al_hlsim_process AL_ISA_NAME(al_hlsim_process)
#define al_level_levels AL_ISA_NAME(al_level_levels)
#define al_level_process AL_ISA_NAME(al_level_process)
#define al_rfft_forward AL_ISA_NAME(al_rfft_forward)
#define al_rfft_inverse AL_ISA_NAME(al_rfft_inverse)
#define al_sos_process AL_ISA_NAME(al_sos_process)
#define al_sosbank_analyze AL_ISA_NAME(al_sosbank_analyze)
#define al_sosbank_filter_reversed AL_ISA_NAME(al_sosbank_filter_reversed)
#define al_stoi_envelopes AL_ISA_NAME(al_stoi_envelopes)
#define al_stoi_resample AL_ISA_NAME(al_stoi_resample)
#define al_stoi_score AL_ISA_NAME(al_stoi_score)
#define al_wdrc_process AL_ISA_NAME(al_wdrc_process)

#endif
